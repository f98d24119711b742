"""Serves the demo portal: one page shell at `/`, `/staff` and `/kiosk` (the page's script
picks the view from the path) and its modules, styles and catalogues under `/portal/`.

The pages carry no inline script or style, so their CSP allows only this origin's files; the
kit's security headers add framing protection and `Referrer-Policy` to the shell."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from services.kit.auth import Public

STATIC = Path(__file__).parent / "static"
ASSETS_PATH = "/portal"
SHELL_PATHS = ("/", "/staff", "/kiosk")
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


async def _shell(_: Public) -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


for _path in SHELL_PATHS:
    router.add_api_route(_path, _shell, methods=["GET"])


def install_portal(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="portal")
