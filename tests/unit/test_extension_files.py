"""The Chrome extension's contracts that its files alone show: permissions, data-testids, a sentence for every
refusal code, and a content script that never touches the key. (Its behaviour: tests/e2e/test_extension.py.)"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from service.errors import ERROR_CODES

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "extension"

TESTIDS = {
    "options.html": ["api-url", "api-key", "save", "test-connection", "connection-status"],
    "popup.html": ["market-search", "stake", "get-quote", "quote-probability", "quote-price", "quote-payout",
                   "quote-expiry", "place-bet", "bet-id", "error"],
    "popup.js": ["market-result", "add-yes", "add-no", "slip-leg", "remove-leg"],  # rendered per result / leg
    "content.js": ["parlay-add-yes", "parlay-add-no"],
}
# refusal codes named by the issue that other parts of the service raise (or will): each needs a sentence too
NAMED_CODES = {"impossible_combo", "market_exposure_limit", "lp_drawdown", "price_moved", "rate_limited",
               "stale_market_data", "market_closed", "unknown_market", "lp_capacity", "uncertainty_too_high",
               "model_not_converged", "database_unavailable"}


def text(name: str) -> str:
    return (EXTENSION / name).read_text()


def manifest() -> dict:
    return json.loads(text("manifest.json"))


def shipped_extension_id() -> str:
    """Chrome's id for the manifest's public key: the first 32 hex digits of its SHA-256, spelled a–p."""
    digest = hashlib.sha256(base64.b64decode(manifest()["key"])).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def test_the_readme_names_the_extension_id_its_manifest_key_gives() -> None:
    named = set(re.findall(r"chrome-extension://([a-p]{32})", (REPO / "README.md").read_text()))
    assert named == {shipped_extension_id()}


def test_manifest_is_mv3_with_the_default_api_origin_only() -> None:
    m = manifest()
    assert m["manifest_version"] == 3
    assert m["background"] == {"service_worker": "background.js", "type": "module"}
    assert m["permissions"] == ["storage"]
    assert m["host_permissions"] == ["http://127.0.0.1:8000/*"]
    assert m["optional_host_permissions"] == ["http://*/*", "https://*/*"]
    assert m["content_scripts"] == [{"matches": ["https://kalshi.com/*"], "js": ["content.js"],
                                     "run_at": "document_idle"}]
    assert m["action"]["default_popup"] == "popup.html" and m["options_ui"]["page"] == "options.html"
    for path in [*m["icons"].values(), "background.js", "popup.html", "options.html", "content.js"]:
        assert (EXTENSION / path).is_file(), path


def test_every_contract_testid_is_in_its_file() -> None:
    for name, ids in TESTIDS.items():
        body = text(name)
        for testid in ids:
            side = re.sub(r"-(yes|no)$", "-${side}", testid)  # the YES and NO buttons come from one template
            forms = [f'data-testid="{testid}"', f'testid: "{testid}"', f"testid: `{side}`", f"`{side}`"]
            assert any(f in body for f in forms), (name, testid)


def sentence_codes() -> set[str]:
    body = text("shared/messages.js")
    block = body[body.index("const SENTENCES = {"):body.index("\n};", body.index("const SENTENCES = {"))]
    return set(re.findall(r"^  ([a-z_]+):", block, flags=re.M))


def test_every_refusal_code_has_a_sentence() -> None:
    missing = (set(ERROR_CODES) | NAMED_CODES) - sentence_codes()
    assert not missing, f"add a sentence to extension/shared/messages.js for: {sorted(missing)}"


def test_the_content_script_never_touches_storage_or_the_key() -> None:
    body = text("content.js")
    for word in ("chrome.storage", "apiKey", "X-API-Key", "fetch(", "XMLHttpRequest", "innerHTML"):
        assert word not in body, word
    # only the service worker sends the key
    senders = [p.name for p in EXTENSION.rglob("*.js") if "X-API-Key" in p.read_text()]
    assert senders == ["background.js"]
    # and the worker answers content scripts only with markets and the slip
    worker = text("background.js")
    allowed = re.search(r"CONTENT_SCRIPT_TYPES = new Set\(\[([^\]]*)\]\)", worker)
    assert allowed and sorted(re.findall(r'"(\w+)"', allowed.group(1))) == ["addLeg", "pageMarkets", "slipLegs"]
