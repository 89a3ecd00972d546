"""Assistance throughput: vLLM (server, concurrent requests) vs transformers, same model, prompts and machine.

Prints precompute throughput (tokens/s, items/s) for
  1. transformers `generate`, one prompt at a time (the naive baseline),
  2. transformers `generate`, batched with left padding (the honest baseline),
  3. a vLLM server with N concurrent requests (what `sandwich assist precompute` does with backend: vllm),
  4. with --offline, `vllm.LLM` in-process, one batched `chat` call (backend: vllm-offline),
and the ratios; then time-to-first-token of a live follow-up through the platform
(StudyService → OverseerSession.follow_up → the server) vs the raw server.

    python benchmarks/assist_throughput.py [--items 16] [--max-tokens 64] [--offline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistants.backends.base import Generation  # noqa: E402
from assistants.templates import messages, show_item  # noqa: E402
from sandwich.tasks.code_review import load_problems  # noqa: E402
from sandwich.views import ItemContent  # noqa: E402

MODEL = "smollm2-135m-instruct"


def prompts(n: int, max_tokens: int) -> list[list[dict[str, str]]]:
    """Explanation prompts for the first n HumanEval reference solutions (what precompute sends)."""
    out = []
    for p in load_problems()[:n]:
        item = ItemContent(
            item_id=p["task_id"],
            task_kind="code-review",
            title=p["entry_point"],
            body=p["prompt"] + p["canonical_solution"],
            question="Is this solution correct?",
            choices=["correct", "buggy"],
            language="python",
        )
        out.append(
            messages(
                "explanation",
                item=show_item(item),
                focus="Explain what this program does, step by step.",
                words=int(max_tokens * 0.6),
            )
        )
    return out


def measure(label: str, run) -> dict:  # noqa: ANN001 - a zero-argument callable returning generations
    start = time.perf_counter()
    gens: list[Generation] = run()
    wall = time.perf_counter() - start
    toks = sum(g.tokens_out for g in gens)
    row = {
        "label": label,
        "items": len(gens),
        "tokens": toks,
        "wall_s": wall,
        "tok_s": toks / wall,
        "items_s": len(gens) / wall,
    }
    print(
        f"  {label:<42} {toks:>6} tok {wall:>8.1f} s {row['tok_s']:>8.1f} tok/s {row['items_s']:>7.2f} items/s",
        flush=True,
    )
    return row


def ttft(stream) -> float:  # noqa: ANN001 - a zero-argument callable returning an iterator of text
    start = time.perf_counter()
    it = iter(stream())
    next(it)
    first = time.perf_counter() - start
    for _ in it:  # drain so the server is idle for the next try
        pass
    return first


def follow_up_ttft(url: str, tries: int) -> tuple[float, float]:
    """Median TTFT of the same follow-up through the platform and straight at the server."""
    from assistants.backends.vllm_http import VLLMHTTPBackend
    from assistants.live import follow_up_messages
    from sandwich.create import create_study
    from sandwich.service import StudyService
    from sandwich.studyfile import load_study

    folder = Path(tempfile.mkdtemp(prefix="sandwich-bench-"))
    data = Path(__file__).resolve().parent.parent / "studies" / "data" / "reading-mc.jsonl"
    (folder / "data.jsonl").write_text("\n".join(data.read_text().splitlines()[:4]) + "\n")
    (folder / "s.yaml").write_text(f"""study: bench
question: q
task: {{kind: multiple-choice, source: data.jsonl, columns: {{id: id, passage: passage}}}}
gold: {{kind: dataset-label}}
assistant: {{backend: vllm, url: '{url}', max_tokens: 48}}
conditions: [{{name: unassisted}}, {{name: helped, assistance: [explanation]}}]
overseers: {{non_experts: [ana, ben], items_per_overseer: 4}}
judgment: {{choices: item}}
""")
    create_study(load_study(folder / "s.yaml"), folder / "s.duckdb")
    question = "Which sentence of the passage matters most here?"
    with StudyService(folder / "s.duckdb") as svc:
        a = next(
            {"assignment_id": r.assignment_id, "overseer": r.overseer}
            for r in svc.store.assignments()
            if r.condition == "helped"
        )
        session = svc.for_overseer(a["overseer"])
        item, help_ = session.item(a["assignment_id"]).item, session.assistance(a["assignment_id"])
        raw = VLLMHTTPBackend(url, MODEL)
        msgs = follow_up_messages(item, help_, question, None)
        platform, direct = [], []
        for _ in range(tries):  # interleaved so both see the same machine load
            direct.append(ttft(lambda: raw.stream(msgs, max_tokens=48)))
            platform.append(ttft(lambda: session.follow_up(a["assignment_id"], question)))
    return statistics.median(platform), statistics.median(direct)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--ttft-tries", type=int, default=5)
    ap.add_argument("--offline", action="store_true", help="also time vllm.LLM (offline, in-process)")
    args = ap.parse_args()
    batch = prompts(args.items, args.max_tokens)
    print(
        f"assist throughput · {MODEL} · {args.items} explanation prompts · max {args.max_tokens} new tokens · "
        f"greedy · {os.cpu_count()} CPUs",
        flush=True,
    )

    from assistants.backends.embedded import EmbeddedBackend

    emb = EmbeddedBackend(MODEL)
    emb.generate([batch[0]], max_tokens=4)  # load and warm up outside the timings
    rows = [
        measure(
            "transformers sequential (batch 1)",
            lambda: [g for m in batch for g in emb.generate([m], max_tokens=args.max_tokens)],
        ),
        measure(
            f"transformers batched ({min(args.items, emb.batch_size)}, left-padded)",
            lambda: emb.generate(batch, max_tokens=args.max_tokens),
        ),
    ]

    from assistants.backends.server import ModelServer
    from assistants.backends.vllm_http import VLLMHTTPBackend

    t0 = time.perf_counter()
    with ModelServer(MODEL) as server:
        print(f"  (vLLM server ready in {time.perf_counter() - t0:.0f} s)", flush=True)
        http = VLLMHTTPBackend(server.url, MODEL, concurrency=args.concurrency, timeout_s=600)
        http.generate(batch[: min(4, len(batch))], max_tokens=4)  # warm-up
        rows.append(
            measure(
                f"vLLM server ({args.concurrency} concurrent)", lambda: http.generate(batch, max_tokens=args.max_tokens)
            )
        )
        platform, direct = follow_up_ttft(server.url, args.ttft_tries)
    if args.offline:
        from assistants.backends.vllm_offline import VLLMOfflineBackend

        off = VLLMOfflineBackend(MODEL)
        off.generate([batch[0]], max_tokens=4)
        rows.append(measure("vLLM offline (LLM.chat)", lambda: off.generate(batch, max_tokens=args.max_tokens)))

    seq, bat, vll = rows[0]["tok_s"], rows[1]["tok_s"], rows[2]["tok_s"]
    print("\nside by side (same prompts, greedy; ratios of tokens/s)")
    print(f"  {'backend':<42} {'tok/s':>8} {'× sequential':>13} {'× batched':>10} {'× server':>9}")
    for r in rows:
        print(
            f"  {r['label']:<42} {r['tok_s']:>8.1f} {r['tok_s'] / seq:>12.2f}× {r['tok_s'] / bat:>9.2f}× "
            f"{r['tok_s'] / vll:>8.2f}×"
        )
    print("\nratios (tokens/s)")
    print(f"  vLLM server / transformers sequential: {vll / seq:5.2f}×   (issue target on CPU: ≥ 4×)")
    print(f"  vLLM server / transformers batched:    {vll / bat:5.2f}×")
    print(f"  transformers batched / sequential:     {bat / seq:5.2f}×")
    if args.offline:  # same prompts, greedy, the server already stopped: no contention for the cores
        off = rows[3]["tok_s"]
        print(f"  vLLM offline / vLLM server:            {off / vll:5.2f}×   (no HTTP, one LLM.chat call)")
        print(f"  vLLM offline / transformers batched:   {off / bat:5.2f}×   (backend: vllm-offline vs embedded)")
    print("\nlive follow-up, time to first token (median of interleaved tries)")
    print(f"  platform (service.follow_up → server): {platform * 1000:7.0f} ms")
    print(f"  raw server stream:                     {direct * 1000:7.0f} ms")
    print(f"  platform / raw:                        {platform / direct:5.2f}×   (target ≤ 1.2×)")


if __name__ == "__main__":
    main()
