"""The README's worked examples run as written, on a clean store, against a real server.

Covered: every ```sh block the README marks with `<!-- example -->` on the line
before its fence, in order, in one bash process: "A first message, end to end",
the message objects, the email send fields, a scheduled send, the SMS, WhatsApp, push and in-app
channels, the campaign, broadcast and newsletter examples, and a reporting webhook. Not covered:
the blocks that start processes of their own (`scripts/run.sh`, `serve` with a
webhook, metrics, TLS, a proxy or JSON logs, the benchmarks, fuzzing,
schemathesis), that need files of the reader's own (`linktrack newsletter
send --ids-file`, the compose CLI, backup and restore), configuration (nginx,
Caddy), log samples and the Python examples.

The blocks run from a directory laid out as the repository's root is under
`bash scripts/run.sh`: `linktrack.db` and `linktrack-data/demo-workspace.json`
(written by `serve --demo`), with `URL` set to the test server and a real SMTP
relay. A `curl` first on PATH adds `--fail-with-body`, so any 4xx or 5xx
answer fails the run while the examples stay verbatim.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server import Mailbox, Server, app_client, poll, running

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- example -->"
# welcome, send fields, a scheduled send, the campaign's 2 actions, 2 broadcast triggers to 2
# people, a newsletter to 2, a broadcast to a segment of 2
EMAILS = 13


def marked_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of each ```sh block right after a MARK line."""
    lines = text.splitlines()
    blocks = []
    for n, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        assert lines[n + 1] == "```sh", f"README line {n + 1}: {MARK} is not before a ```sh fence"
        end = lines.index("```", n + 2)
        blocks.append((n + 3, "\n".join(lines[n + 2 : end])))
    return blocks


def need_tool(name: str) -> str:
    """The tool's path; a skip with the reason when missing, a failure with CI=true."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"the README's examples need {name}, which is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: tools are required)")
    pytest.skip(reason)


def failing_curl(bin_dir: Path, curl: str) -> None:
    """A `curl` that fails on any 4xx or 5xx answer, printing its body, and says so on
    stderr even under the examples' `-s` (an answer `$(…)` captured is not seen)."""
    bin_dir.mkdir()
    shim = bin_dir / "curl"
    shim.write_text(f'#!/bin/sh\nexec {curl} --fail-with-body --show-error "$@"\n')
    shim.chmod(0o755)


def script(blocks: list[tuple[int, str]], results: Path) -> str:
    """The blocks in order, each announced on stderr (where a failure happened), then the
    variables the checks below need."""
    parts = [f"echo '--- README line {line}' >&2\n{body}" for line, body in blocks]
    parts.append(
        f'printf \'{{"key":"%s","tx":%s,"delivery":"%s"}}\' "$KEY" "$TX" "$DELIVERY" > {results}'
    )
    return "\n".join(parts) + "\n"


def test_readme_examples_run_verbatim_on_a_clean_store(tmp_path: Path) -> None:
    curl = need_tool("curl")
    need_tool("jq")
    blocks = marked_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 13, [line for line, _ in blocks]  # a mark lost or added: say so here
    failing_curl(tmp_path / "bin", curl)
    checkout = tmp_path / "checkout"  # the repository's root, as scripts/run.sh runs in it
    checkout.mkdir()
    results = tmp_path / "results.json"
    with Mailbox() as mailbox, running(
        f"sqlite:///{checkout}/linktrack.db", checkout / "linktrack-data",
        smtp_port=mailbox.port, demo=True, log=tmp_path / "server.log",
    ) as server:  # fmt: skip
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script(blocks, results)],
            cwd=checkout,
            env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
                 "URL": server.url},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, (
            f"exit {run.returncode}\n{run.stderr[-3000:]}\n{run.stdout[-3000:]}"
        )
        assert "302 https://example.com/a/1?utm_source=linktrack&_cio_id=" in run.stdout
        answers = json.loads(results.read_text())
        check_effects(server, mailbox, answers)


def check_effects(server: Server, mailbox: Mailbox, answers: dict[str, Any]) -> None:
    """The examples' sends reached the relay, and the click they made was stored."""
    mails = mailbox.wait(EMAILS)
    assert len(mails) == EMAILS, [m["Subject"] for m in mails]
    # The first example's send, the scheduled one (it arrives later), and the send fields'.
    welcome, scheduled = (m for m in mails if m["Subject"] == "Hi Ada" and m["Cc"] is None)
    (with_fields,) = (m for m in mails if m["Subject"] == "Hi Ada" and m["Cc"] is not None)
    assert "https%3A%2F%2Fexample.com%2Fa%2F2" not in str(welcome) and scheduled["To"] == welcome["To"]
    assert welcome["To"] == "ada@example.com"
    html = next(p for p in welcome.walk() if p.get_content_type() == "text/html")
    assert re.search(re.escape(server.url) + r"/e/c/\S+", html.get_payload(decode=True).decode())
    assert with_fields["Cc"] == "boss@example.com" and with_fields["X-Campaign"] == "spring"
    assert [p.get_filename() for p in with_fields.walk() if p.get_filename()] == ["terms.txt"]
    app = app_client(server, answers["key"])

    def clicks() -> dict[str, str]:
        found = app.get("/v1/customers/ada-1/activities", params={"type": "clicked"}).json()
        return {a["delivery_id"]: a["href"] for a in found["activities"]}

    tap = "https://shop.example.com/app/orders/42"  # the push example's SDK click
    clicked = poll(clicks, lambda found: answers["delivery"] in found and tap in found.values())
    assert clicked[answers["delivery"]].startswith("https://example.com/a/1?utm_source=linktrack")
    metrics = app.get(f"/v1/transactional/{answers['tx']}/metrics").json()["metric"]
    assert metrics["sent"] == 3 and metrics["clicked"] == 1 and metrics["scheduled"] == 0, metrics
