// The portal's only way to the suite: the public gateway API, with the user's own tokens.
const STORE = "cityhall.portal.session";
const REFRESH_MARGIN_MS = 30_000;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.fields = fieldErrors(problem);
  }
}

// RFC 9457 problems name the field: `pointer` inside a submitted form ("/phone"), else
// `field` ("email", "form.phone", "body.email"). One key per form control.
function fieldErrors(problem) {
  const fields = {};
  for (const error of problem.errors || []) {
    let key = error.pointer ? error.pointer.replace(/^\//, "") : String(error.field || "");
    key = key.replace(/^(body|query|form)\./, "");
    if (key && !(key in fields)) fields[key] = error.message;
  }
  return fields;
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

function keep(tokens) {
  const current = session() || {};
  const next = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token || current.refresh_token || null,
    expires_at: Date.now() + tokens.expires_in * 1000,
    acr: tokens.acr || current.acr || null,
    me: current.me || null,
  };
  sessionStorage.setItem(STORE, JSON.stringify(next));
  return next;
}

export function forget() {
  sessionStorage.removeItem(STORE);
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) return response.json();
  return { title: response.statusText, status: response.status };
}

async function signIn(response) {
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const kept = keep(await response.json());
  const me = await api("/auth/me");
  sessionStorage.setItem(STORE, JSON.stringify({ ...kept, me }));
  return me;
}

export async function token(fields) {
  return signIn(
    await fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(fields),
    }),
  );
}

// JPKI card login: the gateway's nonce, signed by the card (jpki.js).
export async function cardLogin(card) {
  const { nonce } = await api("/auth/jpki/challenge", { method: "POST" });
  const body = { nonce, certificate: card.certificate, signature: await card.sign(nonce) };
  return signIn(
    await fetch("/auth/jpki/token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

let refreshing = null;
async function fresh() {
  const current = session();
  if (!current) return null;
  if (current.expires_at - Date.now() > REFRESH_MARGIN_MS || !current.refresh_token) {
    return current.access_token;
  }
  refreshing ??= fetch("/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: current.refresh_token }),
  })
    .then(async (response) => {
      if (!response.ok) {
        forget();
        return null;
      }
      return keep(await response.json()).access_token;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

function idempotencyKey() {
  return crypto.randomUUID();
}

// `api(path, {method, body, idempotent})`: JSON in, JSON out; a problem becomes an ApiError.
export async function api(path, { method = "GET", body, idempotent = false, query } = {}) {
  const headers = { Accept: "application/json" };
  const access = await fresh();
  if (access) headers.Authorization = `Bearer ${access}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotent) headers["Idempotency-Key"] = idempotencyKey();
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    if ([...params].length) url += `?${params}`;
  }
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return response.json();
}

// A file the API serves to its owner (issued documents): fetched with the user's token.
export async function apiBlob(path) {
  const access = await fresh();
  const response = await fetch(path, { headers: access ? { Authorization: `Bearer ${access}` } : {} });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.blob();
}

export async function logout() {
  try {
    if (session()) await api("/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}
