"""The benchmark profiles: what the simulator does, and which Locust runs go against which target.

A profile is data, so the report can print exactly what ran. Targets:

``ceiling``       HAProxy straight to the simulator (no Python anywhere): the best any proxy can do here
``seed``          the seed document's FastAPI proxy, a new ``httpx.AsyncClient`` per request
``shared-httpx``  the same with one shared ``httpx.AsyncClient`` (httpx's default transport)
``flask``         this project's Flask stack (gunicorn, one gevent worker)
``fastapi``       this project's FastAPI stack (uvicorn, one worker, aiohttp upstream)
``haproxy-50-50`` HAProxy in front of both stacks at 50/50 (the migration's mid-point)

The baselines and the ceiling speak OpenAI-family passthrough only, so they appear in the
``chat`` and ``chat-stream`` runs; conversion runs (Claude) go to the two stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["PROFILES", "SOAK", "TARGETS", "Profile", "Run", "quick"]

TARGETS = ("ceiling", "seed", "shared-httpx", "flask", "fastapi", "haproxy-50-50")
CLAUDE = "anthropic--claude-4-sonnet"
SOAK = 100_000  # requests after the warm-up in the memory soak
ANSWER_S = 35.0  # length of one slow-upstream answer


@dataclass(frozen=True)
class Run:
    """One headless Locust run against one target."""

    key: str  # unique within the profile: names the CSV files
    target: str
    tags: tuple[str, ...]  # Locust scenarios; () = all, weighted
    users: int
    spawn_rate: float
    seconds: float  # measured time, after the warm-up
    warmup: float = 3.0
    chat_model: str = "gpt-4o"
    stop_after: int = 0  # end early after this many measured requests (the soak)
    no_gaps: bool = False
    label: str = ""  # what the run is for, in the report

    @property
    def scenario(self) -> str:
        return "+".join(self.tags) if self.tags else "mixed"


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    sim_args: tuple[str, ...]
    runs: tuple[Run, ...]
    upstream_gap_ms: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _overhead() -> Profile:
    chat = ("chat",)
    baselines = ("ceiling", "seed", "shared-httpx")
    runs = [Run(f"chat-{t}", t, chat, 32, 32, 15, label="passthrough chat") for t in baselines]
    # The two stacks run until 100,000 measured requests: the throughput figure and the
    # memory soak in one go (RSS after the warm-up vs at the end). Locust stops a little
    # short of its trigger (requests in flight are cut), hence the margin.
    runs += [
        Run(f"chat-{t}", t, chat, 32, 32, 600, warmup=5, stop_after=SOAK + 1_000, label="passthrough chat + 100k soak")
        for t in ("flask", "fastapi")
    ]
    runs.append(Run("chat-haproxy-50-50", "haproxy-50-50", chat, 32, 32, 15, label="passthrough chat, 50/50"))
    runs += [
        Run(f"claude-{t}", t, chat, 32, 32, 15, chat_model=CLAUDE, label="Claude conversion")
        for t in ("flask", "fastapi")
    ]
    return Profile(
        "overhead",
        "The upstream answers at once: what the proxy itself costs per request.",
        ("--ttft-ms", "0", "--chunk-gap-ms", "0", "--latency-ms", "0", "--chunks", "20"),
        tuple(runs),
    )


def _realistic() -> Profile:
    stream = ("chat-stream",)
    runs = [
        Run(f"stream-{t}", t, stream, 50, 50, 15, label="chat stream, 50 concurrent")
        for t in ("ceiling", "seed", "shared-httpx", "flask", "fastapi", "haproxy-50-50")
    ]
    runs += [
        Run(f"messages-{t}", t, ("messages-stream",), 50, 50, 15, label="Anthropic messages stream (Claude)")
        for t in ("flask", "fastapi")
    ]
    runs += [Run(f"mixed-{t}", t, (), 50, 50, 15, label="mixed agent traffic") for t in ("flask", "fastapi")]
    return Profile(
        "realistic",
        "First token after ~500 ms, then 40 chunks ~25 ms apart; JSON answers after 1.5 s.",
        ("--ttft-ms", "500", "--chunk-gap-ms", "25", "--chunks", "40", "--latency-ms", "1500"),
        tuple(runs),
        upstream_gap_ms=25.0,
    )


def _slow_upstream() -> Profile:
    stream = ("chat-stream",)

    def held(users: int, target: str) -> Run:
        # Users start over one answer's length (35 s), so their streams are spread evenly
        # instead of all starting, and then all ending, in the same second.
        return Run(
            f"streams-{users}-{target}",
            target,
            stream,
            users,
            round(users / ANSWER_S, 1),
            30,
            warmup=ANSWER_S + 3,
            no_gaps=True,
            label=f"{users:,} concurrent streams",
        )

    return Profile(
        "slow-upstream",
        f"Long answers ({ANSWER_S:.0f} s: first token after 5 s, then 10 chunks 3 s apart) and thousands of clients.",
        ("--ttft-ms", "5000", "--chunk-gap-ms", "3000", "--chunks", "10", "--latency-ms", "5000"),
        (held(2000, "flask"), held(2000, "fastapi"), held(5000, "fastapi"), held(5000, "flask")),
        upstream_gap_ms=3000.0,
        notes=(
            "Each user opens its next stream as soon as one ends, so the users are the number of streams in "
            "flight; the users are started over one answer's length so stream starts spread out evenly.",
            "Measured before this profile was settled: with 13-second answers (first token after 3 s, 10 chunks "
            "1 s apart, ~220 new streams/s at 5,000 users) one FastAPI worker was CPU-bound; every stream still "
            "completed, but TTFT p50 grew from 3 s to ~8 s. Streams cost CPU per chunk: add workers for "
            "chunk-heavy traffic (docs/load-testing.md).",
        ),
    )


PROFILES: dict[str, Profile] = {p.name: p for p in (_overhead(), _realistic(), _slow_upstream())}


def quick(profile: Profile) -> Profile:
    """A seconds-long version of ``profile`` (``--quick``): proves the pipeline, measures nothing."""
    runs = tuple(
        replace(
            r,
            users=min(r.users, 8),
            spawn_rate=min(r.spawn_rate, 8),
            seconds=2,
            warmup=1,
            stop_after=min(r.stop_after, 200),
        )
        for r in profile.runs
    )
    fast_sim = ("--ttft-ms", "50", "--chunk-gap-ms", "10", "--chunks", "5", "--latency-ms", "50")
    return replace(
        profile,
        runs=runs,
        sim_args=fast_sim,
        upstream_gap_ms=10.0 if profile.upstream_gap_ms else 0.0,
        notes=(*profile.notes, "quick mode: 2-second runs, at most 8 users"),
    )
