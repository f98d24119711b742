// The mock My Number card in the browser: a card file (`cityhall jpki issue-card`) holds the
// card's PKCS#8 EC key and its certificate (PEM). The card signs the gateway's nonce with
// ECDSA-SHA256; WebCrypto gives r||s, the gateway wants DER, as a real card reader sends.
function pemBlocks(text, label) {
  const pattern = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g");
  return text.match(pattern) || [];
}

function derOf(pem) {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

function derInteger(bytes) {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  let value = bytes.slice(start);
  if (value[0] & 0x80) value = Uint8Array.of(0, ...value);
  return Uint8Array.of(0x02, value.length, ...value);
}

function rawToDer(raw) {
  const half = raw.length / 2;
  const r = derInteger(raw.slice(0, half));
  const s = derInteger(raw.slice(half));
  return Uint8Array.of(0x30, r.length + s.length, ...r, ...s);
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function readCard(file) {
  const text = await file.text();
  const [keyPem] = pemBlocks(text, "PRIVATE KEY");
  const [certificate] = pemBlocks(text, "CERTIFICATE");
  if (!keyPem || !certificate) throw new Error("card_file_invalid");
  const key = await crypto.subtle.importKey("pkcs8", derOf(keyPem), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  return {
    certificate,
    async sign(text) {
      const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(text));
      return base64url(rawToDer(new Uint8Array(raw)));
    },
  };
}
