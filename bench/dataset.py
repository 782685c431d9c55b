"""One data set for every bench section that needs volume: BENCH_CASES cases (1,000,000 by default)
and their events, written in bulk straight into each service's tables, never through the event path.

What a case leaves behind is what the services would have written for it, spread over the demo
county's units and the year before the load:

- agents ``agent_case``: the cases village agents collected (60 %: ten per cent at each village);
- intake ``intake_case`` (every case that reached a hall: handed up from a village, or a walk-in at a
  town hall, 30 %, or the county hall, 10 %) and ``receipt`` (every accepted case);
- approval ``approval_case`` (every accepted case, at the unit that decides it);
- supervision ``case_view`` (every case), ``timeline_entry`` (one per event: collected, handed up,
  received, notice issued, accepted, handed up the halls, decided, delivered, evaluated),
  ``evaluation`` (about a third of the decided cases) and the counters its stats read
  (``unit_figures``, ``open_cases_due``: what its event handlers would have counted, by the rules of
  ``services.supervision.read_models.figures_of`` applied to each case's view);
- each minting service's ``case_sequence`` (when it keeps one), so a new case never collides.

Older cases have mostly run their course (delivered, decided); recent ones are spread over every
status. Columns come from each service's ``models.py`` at load time: a column this file does not fill
takes its default, or NULL, and one with neither stops the load with its name. Values go through the
columns' own SQLAlchemy types (sealed personal data is sealed with the installation's keys; a pool of
applicants is sealed once and reused). PostgreSQL: ``COPY`` through psycopg, then ``VACUUM ANALYZE``;
SQLite: ``executemany`` in large transactions.

The data set is kept (``var/bench/dataset-<backend>-<cases>/``, and on PostgreSQL the database
``weimin_bench_<cases>``) and reused while ``dataset.json`` there says it was loaded with this
generator for the current migration head of every service; otherwise it is dropped and loaded again.

    python -m bench.dataset [--backend postgres|sqlite] [--cases N] [--force]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import operator
import os
import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import BENCH_VAR, Postgres, say

GENERATOR_VERSION = 3
SERVICES = ("agents", "intake", "approval", "supervision")
DAYS = 365
FLUSH_EVERY = 20_000  # cases per transaction / COPY batch
APPLICANTS = 5_000  # distinct applicants (sealed once each, reused)

CITY, COUNTY = "371400000000", "371424000000"
TOWNS = ["371424001000", "371424100000", "371424202000"]
VILLAGES = ["371424001001", "371424001002", "371424100201", "371424100202", "371424202201", "371424202202"]
# Where cases begin, and how many of them: each village 10 %, each town hall 10 %, the county hall 10 %.
ORIGINS = [*VILLAGES, *TOWNS, COUNTY]
ORIGIN_WEIGHTS = [10] * len(VILLAGES) + [10] * len(TOWNS) + [10]

# The demo catalogue (deploy/demo_catalogue): code -> (name, deciding level, promised days, required
# materials, an agent may take it).
ITEMS: dict[str, tuple[str, str, int, list[str], bool]] = {
    "LY-MZ-001": (
        "最低生活保障(低保)认定",
        "town",
        10,
        ["低保申请书", "居民身份证", "户口簿", "家庭收入情况声明"],
        True,
    ),
    "LY-MZ-002": (
        "特困人员救助供养认定",
        "county",
        15,
        ["特困人员救助供养申请书", "居民身份证", "户口簿"],
        True,
    ),
    "LY-MZ-003": ("临时救助", "town", 5, ["临时救助申请书", "居民身份证"], True),
    "LY-ZJ-001": (
        "农村村民住宅建设审批(农民建房)",
        "town",
        15,
        ["农村宅基地和建房(规划许可)申请表", "户口簿", "村民会议决议"],
        False,
    ),
    "LY-SC-001": (
        "个体工商户设立登记(营业执照)",
        "county",
        3,
        ["个体工商户登记申请书", "经营者身份证明", "经营场所使用证明"],
        False,
    ),
    "LY-CL-001": ("残疾人证申领", "county", 20, ["残疾人证申请表", "居民身份证", "近期免冠照片"], True),
    "LY-SB-001": ("城乡居民基本养老保险参保登记", "village", 0, ["居民身份证"], True),
    "LY-YB-001": ("城乡居民基本医疗保险参保登记", "village", 0, ["居民身份证"], True),
    "LY-MZ-004": ("80周岁以上老年人高龄津贴申领", "county", 10, ["居民身份证", "户口簿"], True),
    "LY-TY-001": ("退役军人优待证申领", "county", 15, ["优待证申请表", "居民身份证", "退役证件"], False),
    "DZ-YB-001": (
        "城乡居民医保门诊慢特病待遇认定",
        "city",
        15,
        ["门诊慢特病待遇认定申请表", "居民身份证", "二级及以上定点医疗机构诊断证明"],
        True,
    ),
}
# One list object per value: the loader serialises each JSON list once (by identity).
SHORT = {code: item[3][:-1] for code, item in ITEMS.items()}
AGENT_ITEMS = [code for code, item in ITEMS.items() if item[4]]
TOWN_ITEMS = [code for code in ITEMS if code != "LY-TY-001"]
COUNTY_ITEMS = list(ITEMS)

STAGES = ["collected", "handed_up", "received", "incomplete", "accepted", "decided", "delivered"]
# The stage a case has reached, by its age in days: (oldest age of the band, weights over STAGES).
STAGE_BANDS: list[tuple[int, list[float]]] = [
    (9, [15, 10, 20, 10, 35, 7, 3]),
    (59, [1, 2, 4, 6, 22, 15, 50]),
    (10_000, [0.5, 0.5, 1, 3, 3, 4, 88]),
]
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉兰淑珍志强桂兰凤英国华春梅海燕"
CN = timedelta(hours=8)
FIGURES = ("received", "accepted", "decided", "on_time", "decided_late", "rated", "satisfied")
SATISFIED_FROM = 3  # services.supervision.read_models.SATISFIED_FROM


def parent_of(code: str) -> str | None:
    if code[9:] != "000":
        return code[:9] + "000"
    if code[6:9] != "000":
        return code[:6] + "000000"
    if code[4:6] != "00":
        return code[:4] + "00000000"
    return None


def level_of(code: str) -> str:
    if code[9:] != "000":
        return "village"
    if code[6:9] != "000":
        return "town"
    if code[4:6] != "00":
        return "county"
    return "city"


def mask_name(name: str) -> str:
    return name[0] + "*" if len(name) == 2 else name[0] + "*" * (len(name) - 2) + name[-1]


# ----------------------------------------------------------------------------------------- where it lives


@dataclass(frozen=True)
class Target:
    backend: str
    cases: int
    var_dir: Path
    database: str | None  # PostgreSQL: the database's name on the bench's server
    database_url: str  # "" on SQLite

    @property
    def marker(self) -> Path:
        return self.var_dir / "dataset.json"


def target(backend: str, cases: int, pg: Postgres) -> Target:
    var_dir = BENCH_VAR / f"dataset-{backend}-{cases}"
    if backend == "postgres":
        name = f"weimin_bench_{cases}"
        return Target(backend, cases, var_dir, name, pg.url_for(name))
    return Target(backend, cases, var_dir, None, "")


def schema_heads() -> dict[str, str | None]:
    """The newest migration of every database the network migrates."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from shared.migrations import DATABASES, script_location

    heads = {}
    for name in DATABASES:
        config = Config()
        config.set_main_option("script_location", str(script_location(name)))
        heads[name] = ScriptDirectory.from_config(config).get_current_head()
    return heads


@contextmanager
def installation(t: Target) -> Iterator[Any]:
    """The process's settings pointed at the data set (the sealing keys live in its var dir)."""
    from shared.settings import Settings, get_settings

    saved = {k: os.environ.get(k) for k in ("WEIMIN_VAR_DIR", "WEIMIN_DATABASE_URL")}
    os.environ["WEIMIN_VAR_DIR"] = str(t.var_dir)
    os.environ["WEIMIN_DATABASE_URL"] = t.database_url
    get_settings.cache_clear()
    try:
        yield Settings(var_dir=t.var_dir, database_url=t.database_url)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()


def loaded(t: Target, pg: Postgres) -> dict[str, Any] | None:
    """The marker, when the data set there is complete for this generator and the current heads."""
    try:
        marker = json.loads(t.marker.read_text())
    except (OSError, ValueError):
        return None
    if (
        marker.get("generator") != GENERATOR_VERSION
        or marker.get("cases") != t.cases
        or marker.get("heads") != schema_heads()
        or marker.get("database") != t.database
    ):
        return None
    try:
        expected = marker["rows"]["agent_case"]
        with _sink(t, pg, "agents") as sink:
            if sink.count("agent_case") != expected:
                return None
    except Exception:  # noqa: BLE001 - a database that is gone or broken: load again
        return None
    return marker


def ensure(backend: str, cases: int, pg: Postgres, *, force: bool = False) -> tuple[Target, dict[str, Any]]:
    """The data set, loaded now unless a complete one for the current schema is there."""
    t = target(backend, cases, pg)
    marker = None if force else loaded(t, pg)
    if marker is not None:
        say(f"  data set: {cases:,} cases on {backend}, loaded {marker['loaded_at']} (kept; {t.var_dir})")
        return t, marker
    return t, load(t, pg)


def load(t: Target, pg: Postgres) -> dict[str, Any]:
    from shared import migrations

    say(f"  loading the data set: {t.cases:,} cases on {t.backend} into {t.var_dir} ...")
    began = time.monotonic()
    if t.var_dir.exists():
        shutil.rmtree(t.var_dir)
    t.var_dir.mkdir(parents=True)
    if t.database:
        pg.create(t.database)
    heads = schema_heads()
    with installation(t) as settings:
        for name in migrations.DATABASES:
            migrations.upgrade(name, settings)
        generator = Generator(t.cases, random.Random(8))
        rows = write(t, pg, generator)
    marker = {
        "generator": GENERATOR_VERSION,
        "cases": t.cases,
        "heads": heads,
        "database": t.database,
        "backend": t.backend,
        "first_day": generator.first_day.isoformat(),
        "last_day": generator.last_day.isoformat(),
        "origins": ORIGINS,
        "rows": rows,
        "sample_case": generator.sample_case,
        "load_seconds": round(time.monotonic() - began, 1),
        "loaded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    t.marker.write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n")
    say(f"  data set loaded in {marker['load_seconds']} s: {rows}")
    return marker


# ------------------------------------------------------------------------------------------ the cases


@dataclass
class Applicant:
    name: str
    id_number: str
    phone: str
    id_hash: str


@dataclass
class Rows:
    """What one batch of cases writes, per table."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def table(self, name: str) -> list[dict[str, Any]]:
        rows = self.tables.get(name)
        if rows is None:
            rows = self.tables[name] = []
        return rows


TABLE_SERVICE = {
    "agent_case": "agents",
    "intake_case": "intake",
    "receipt": "intake",
    "approval_case": "approval",
    "case_view": "supervision",
    "timeline_entry": "supervision",
    "evaluation": "supervision",
    "unit_figures": "supervision",
    "open_cases_due": "supervision",
}


class Generator:
    """Cases, one after the other in order of the day they began; each as the rows it leaves.

    Written for speed (a million cases): random numbers straight from ``random()``, codes from
    pools made once, rows as plain dicts with every key set."""

    def __init__(self, cases: int, rng: random.Random) -> None:
        from shared.clock import today_cn
        from shared.identity_numbers import make_valid_id_number
        from shared.personal_data import lookup_hash

        self.cases, self.rng, self.random = cases, rng, rng.random
        self.last_day = today_cn() - timedelta(days=1)  # today's numbers stay free for new cases
        self.first_day = self.last_day - timedelta(days=DAYS - 1)
        self.now = datetime.now(UTC) - timedelta(minutes=5)
        self.sequences: dict[tuple[str, date], int] = {}
        self.event_no = 0
        self.sample_case: str | None = None
        self.applicants = []
        for n in range(APPLICANTS):
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
            id_number = make_valid_id_number("371424", born, f"{n % 1000:03d}")
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            phone = "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
            self.applicants.append(Applicant(name, id_number, phone, lookup_hash(id_number)))
        self.codes = ["".join(rng.choice(CODE_ALPHABET) for _ in range(12)) for _ in range(20_000)]
        self.origin_cum = list(itertools.accumulate(ORIGIN_WEIGHTS))
        self.bands = [(oldest, list(itertools.accumulate(w))) for oldest, w in STAGE_BANDS]
        self.rating_cum = list(itertools.accumulate([70, 15, 7, 4, 4]))
        self.prefix: dict[tuple[str, date], str] = {}
        self.orgs: dict[tuple[str, ...], list[str]] = {}
        # supervision's counters, as its handlers keep them: per origin, and open cases per due date
        self.unit_figures: dict[str, dict[str, int]] = {}
        self.open_due: dict[tuple[str, date], int] = {}

    def pick(self, seq: list[Any]) -> Any:
        return seq[int(self.random() * len(seq))]

    def weighted(self, cumulative: Sequence[float]) -> int:
        return bisect.bisect_right(cumulative, self.random() * cumulative[-1])

    def batches(self) -> Iterator[Rows]:
        rows = Rows()
        for i in range(self.cases):
            self.case(i, rows)
            if (i + 1) % FLUSH_EVERY == 0:
                yield rows
                rows = Rows()
        if rows.tables:
            yield rows

    def _at(self, moment: datetime) -> datetime:
        return moment if moment < self.now else self.now

    def case_number(self, origin: str, day: date, seq: int) -> str:
        from shared.case_numbers import check_character

        prefix = self.prefix.get((origin, day))
        if prefix is None:
            prefix = self.prefix[(origin, day)] = f"{origin}-{day:%Y%m%d}-"
        digits = f"{origin}{prefix[13:21]}{seq:06d}"
        return f"{prefix}{seq:06d}-{check_character(digits)}"

    def case(self, i: int, rows: Rows) -> None:  # noqa: C901 - one case's whole life, step by step
        rand = self.random
        timeline = rows.table("timeline_entry")

        def event(type_: str, service: str, org: str, at: datetime) -> None:
            self.event_no += 1
            timeline.append(
                {
                    "case_id": case_id,
                    "event_id": f"bench-{self.event_no:012d}",
                    "type": type_,
                    "service": service,
                    "org_code": org,
                    "at": at,
                }
            )

        day = self.first_day + timedelta(days=i * DAYS // self.cases)
        age = (self.last_day - day).days
        origin = ORIGINS[self.weighted(self.origin_cum)]
        level = level_of(origin)
        agent = level == "village"
        code = self.pick(AGENT_ITEMS if agent else TOWN_ITEMS if level == "town" else COUNTY_ITEMS)
        name, deciding_level, promised, required, _ = ITEMS[code]
        seq = self.sequences[(origin, day)] = self.sequences.get((origin, day), 0) + 1
        case_id = self.case_number(origin, day, seq)
        if i == self.cases // 2:
            self.sample_case = case_id
        cumulative = next(c for oldest, c in self.bands if age <= oldest)
        stage = self.weighted(cumulative)
        if not agent:
            stage = min(max(stage, 2), 5)  # a walk-in begins received and ends decided
        person = self.applicants[int(rand() * APPLICANTS)]
        materials = required if rand() < 0.67 or len(required) == 1 else SHORT[code]
        began = self._at(
            datetime(day.year, day.month, day.day, tzinfo=UTC)
            - CN
            + timedelta(seconds=30600 + rand() * 32400)
        )
        hall = origin[:9] + "000" if agent else origin  # the hall that receives and accepts
        view: dict[str, Any] = {
            "case_id": case_id,
            "item_code": code,
            "status": STAGES[stage],
            "origin_org": origin,
            "current_org": origin,
            "orgs": None,
            "received_at": began,
            "accepted_at": None,
            "due": None,
            "due_provisional": False,
            "decided_at": None,
            "outcome": None,
            "on_time": None,
            "delivered_at": None,
            "evaluation_code": None,
            "rating": None,
        }
        orgs = [origin]
        current = origin
        at = began
        agent_row: dict[str, Any] = {}
        # --- at the village
        if agent:
            event("case.collected", "agents", origin, at)
            agent_row = {
                "case_id": case_id,
                "item_code": code,
                "item_name": name,
                "item_version": 1,
                "village_code": origin,
                "current_org": origin,
                "status": "collected",
                "applicant_name": person.name,
                "applicant_id_number": person.id_number,
                "applicant_phone": person.phone,
                "applicant_id_number_hash": person.id_hash,
                "materials": materials,
                "collected_by": f"agent-{origin}",
                "collected_at": at,
                "outcome": None,
                "decision_reason": None,
                "delivered_at": None,
                "delivered_by": None,
                "delivery_method": None,
                "updated_at": at,
                "version": 1,
            }
            rows.table("agent_case").append(agent_row)
            if stage >= 1:
                at = self._at(at + timedelta(minutes=10 + rand() * 230))
                event("case.handed_up", "agents", origin, at)
                agent_row.update(status="handed_up", current_org=hall, updated_at=at, version=2)
                current = hall
        # --- at the hall
        if stage >= 2:
            if agent:
                at = self._at(at + timedelta(hours=1 + rand() * 47))
            event("case.received", "intake", hall, at)
            current = hall
            if hall != origin:
                orgs.append(hall)
            intake = {
                "case_id": case_id,
                "item_code": code,
                "item_name": name,
                "item_version": 1,
                "required_materials": required,
                "deciding_level": deciding_level,
                "promised_days": promised,
                "origin_org": origin,
                "current_org": hall,
                "channel": "handoff" if agent else "walk_in",
                "status": "received",
                "applicant_name": person.name,
                "applicant_id_number": person.id_number,
                "applicant_phone": person.phone,
                "applicant_id_number_hash": person.id_hash,
                "materials": materials,
                "first_officer": None if agent else f"clerk-{hall}",
                "received_at": at,
                "accepted_at": None,
                "deciding_org": None,
                "due": None,
                "due_provisional": False,
                "outcome": None,
                "version": 1,
            }
            rows.table("intake_case").append(intake)
            noticed = stage == 3 or (stage >= 4 and rand() < 0.2)
            if noticed:
                at = self._at(at + timedelta(minutes=5 + rand() * 55))
                event("case.notice_issued", "intake", hall, at)
                intake.update(status="incomplete", first_officer=f"clerk-{hall}", version=2)
            if stage >= 4:
                at = self._at(at + timedelta(hours=1 + rand() * (119 if noticed else 47)))
                accepted_on = (at + CN).date()
                due = accepted_on + timedelta(days=-(-promised * 7 // 5))
                if deciding_level == "city":
                    deciding = CITY
                elif deciding_level == "county" or level_of(hall) == "county":
                    deciding = COUNTY
                else:
                    deciding = hall
                evaluation_code = self.codes[int(rand() * len(self.codes))]
                event("case.accepted", "intake", hall, at)
                view.update(accepted_at=at, due=due, evaluation_code=evaluation_code)
                intake.update(
                    status="accepted",
                    materials=required,
                    first_officer=f"clerk-{hall}",
                    accepted_at=at,
                    deciding_org=deciding,
                    due=due,
                    version=intake["version"] + 1,
                )
                rows.table("receipt").append(
                    {
                        "receipt_no": "R" + case_id.replace("-", ""),
                        "case_id": case_id,
                        "item_code": code,
                        "item_name": name,
                        "org_code": hall,
                        "accepted_on": accepted_on,
                        "due": due,
                        "due_provisional": False,
                        "officer": f"clerk-{hall}",
                        "evaluation_code": evaluation_code,
                    }
                )
                accepted_at = at
                # up the halls to the unit that decides
                while current != deciding:
                    above = parent_of(current)
                    assert above is not None
                    at = self._at(at + timedelta(minutes=30 + rand() * 270))
                    event("case.handed_up", "intake", current, at)
                    event("case.received", "intake", above, at)
                    current = above
                    orgs.append(above)
                    intake.update(current_org=above, version=intake["version"] + 1)
                    if agent:  # the agent's view follows the case up (agents' follow_handoff)
                        agent_row.update(current_org=above, version=agent_row["version"] + 1)
                approval = {
                    "case_id": case_id,
                    "item_code": code,
                    "item_name": name,
                    "origin_org": origin,
                    "deciding_org": deciding,
                    "current_org": current,
                    "applicant_name": mask_name(person.name),
                    "status": "accepted",
                    "accepted_at": accepted_at,
                    "promised_days": promised,
                    "due": due,
                    "due_provisional": False,
                    "outcome": None,
                    "reason": None,
                    "decided_by": None,
                    "decided_at": None,
                    "on_time": None,
                    "version": 1,
                }
                rows.table("approval_case").append(approval)
                if stage >= 5:
                    late = rand() < 0.06
                    span = timedelta(days=promised * 1.4) if promised else timedelta(hours=6)
                    at = self._at(at + span * ((1.05 + rand() * 0.55) if late else (0.1 + rand() * 0.85)))
                    outcome = "approved" if rand() < 0.93 else "rejected"
                    reason = None if outcome == "approved" else "材料不符合条件"
                    on_time = (at + CN).date() <= due
                    event("case.decided", "approval", deciding, at)
                    view.update(decided_at=at, outcome=outcome, on_time=on_time)
                    approval.update(
                        status="decided",
                        outcome=outcome,
                        reason=reason,
                        decided_by=f"approver-{deciding}",
                        decided_at=at,
                        on_time=on_time,
                        version=2,
                    )
                    intake.update(status="decided", outcome=outcome, version=intake["version"] + 1)
                    if agent:
                        agent_row.update(
                            status="decided",
                            outcome=outcome,
                            decision_reason=reason,
                            updated_at=at,
                            version=agent_row["version"] + 1,
                        )
                    if stage >= 6:
                        at = self._at(at + timedelta(hours=2 + rand() * 70))
                        event("case.delivered", "agents", origin, at)
                        view["delivered_at"] = at
                        current = origin
                        agent_row.update(
                            status="delivered",
                            delivered_at=at,
                            delivered_by=f"agent-{origin}",
                            delivery_method="agent",
                            current_org=origin,
                            updated_at=at,
                            version=agent_row["version"] + 1,
                        )
                    if rand() < 0.35:
                        rating = 5 - self.weighted(self.rating_cum)
                        rated_at = self._at(at + timedelta(hours=1 + rand() * 95))
                        event("case.evaluated", "supervision", origin, rated_at)
                        view["rating"] = rating
                        rows.table("evaluation").append(
                            {
                                "case_id": case_id,
                                "rating": rating,
                                "comment": None if rating >= 4 else "办理时间较长",
                                "rated_by": f"agent-{origin}" if agent else "applicant",
                                "channel": "agent" if agent else "receipt_code",
                                "caller": f"agent-{origin}" if agent else "anonymous",
                                "org_code": current,
                                "created_at": rated_at,
                            }
                        )
        key = tuple(orgs)
        shared_orgs = self.orgs.get(key)
        if shared_orgs is None:
            shared_orgs = self.orgs[key] = orgs
        view.update(current_org=current, orgs=shared_orgs)
        rows.table("case_view").append(view)
        self.count(view)

    def count(self, view: dict[str, Any]) -> None:
        """Add the case to supervision's counters (the rules of read_models.figures_of)."""
        origin, rating, on_time = view["origin_org"], view["rating"], view["on_time"]
        figures = self.unit_figures.get(origin)
        if figures is None:
            figures = self.unit_figures[origin] = dict.fromkeys(FIGURES, 0)
        figures["received"] += 1
        if view["accepted_at"] is not None:
            figures["accepted"] += 1
            if view["decided_at"] is None and view["due"] is not None:
                key = (origin, view["due"])
                self.open_due[key] = self.open_due.get(key, 0) + 1
        if view["decided_at"] is not None:
            figures["decided"] += 1
        if on_time is not None:
            figures["on_time" if on_time else "decided_late"] += 1
        if rating is not None:
            figures["rated"] += 1
            figures["satisfied"] += rating >= SATISFIED_FROM

    def counter_rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "unit_figures": [{"org_code": org, **figures} for org, figures in self.unit_figures.items()],
            "open_cases_due": [
                {"org_code": org, "due": due, "cases": n} for (org, due), n in self.open_due.items()
            ],
        }


# ---------------------------------------------------------------------------------------- writing rows


class Columns:
    """How one table's rows become database values, column by column with each column's own bind
    processor (skipped where it leaves our values as they are; sealed values memoised); columns
    the generator does not give take their default, or NULL."""

    def __init__(self, table: Any, dialect: Any, rows: list[dict[str, Any]]) -> None:
        from sqlalchemy import JSON

        try:
            from shared.personal_data import SealedString
        except ImportError:  # an older tree
            SealedString = None  # type: ignore[assignment,misc]  # noqa: N806
        given = set().union(*rows)
        self.table = table
        self.names: list[str] = []
        self.constants: dict[int, Any] = {}
        self.processors: dict[int, Callable[[Any], Any]] = {}
        row_names: list[str] = []
        for column in table.columns:
            position = len(self.names)
            if column.name in given:
                row_names.append(column.name)
                self.names.append(column.name)
                processor = column.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is None:
                    continue
                sealed = SealedString is not None and isinstance(column.type, SealedString)
                if sealed:
                    self.processors[position] = _memoised(processor)
                    continue
                if isinstance(column.type, JSON):
                    self.processors[position] = _memoised_by_identity(processor)
                    continue
                sample = next((r[column.name] for r in rows if r.get(column.name) is not None), None)
                if sample is not None and _identity(processor, sample):
                    continue  # e.g. a valid status string, an aware UTC datetime on PostgreSQL
                if (
                    dialect.name == "sqlite"
                    and isinstance(sample, datetime)
                    and processor(sample) == _sqlite_datetime(sample)
                ):
                    self.processors[position] = _sqlite_datetime  # the same text, faster
                else:
                    self.processors[position] = processor
                continue
            if (
                column.primary_key
                and column.autoincrement in (True, "auto")
                and column.type.python_type is int
            ):
                continue  # the database numbers it
            if column.server_default is not None:
                continue
            if column.default is not None:
                default = column.default
                value = default.arg(None) if default.is_callable else default.arg
            elif column.nullable:
                value = None
            else:
                raise SystemExit(
                    f"bench/dataset.py does not fill {table.name}.{column.name} (NOT NULL, no default): "
                    "teach Generator.case what a case puts there"
                )
            processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            self.constants[position] = processor(value) if processor and value is not None else value
            self.names.append(column.name)
        self.row_names = row_names
        self.getter = operator.itemgetter(*row_names)

    def convert(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        if not self.processors and not self.constants:
            getter = self.getter
            return [getter(r) if len(self.row_names) > 1 else (getter(r),) for r in rows]
        columns: list[Any] = []
        count = len(rows)
        for position, name in enumerate(self.names):
            if position in self.constants:
                columns.append(itertools.repeat(self.constants[position], count))
                continue
            processor = self.processors.get(position)
            if processor is None:
                columns.append([r[name] for r in rows])
            else:
                columns.append([None if (v := r[name]) is None else processor(v) for r in rows])
        return list(zip(*columns, strict=True))


def _memoised(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A sealed value is sealed once and reused for every row that holds it (each sealing differs,
    every one opens to the same value)."""
    memo: dict[Any, Any] = {}

    def process(value: Any) -> Any:
        done = memo.get(value)
        if done is None:
            done = memo[value] = processor(value)
        return done

    return process


def _memoised_by_identity(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON value done once per object: the generator reuses its lists (they live as long as it)."""
    memo: dict[int, Any] = {}

    def process(value: Any) -> Any:
        done = memo.get(id(value))
        if done is None:
            done = memo[id(value)] = processor(value)
        return done

    return process


def _identity(processor: Callable[[Any], Any], sample: Any) -> bool:
    try:
        out = processor(sample)
    except Exception:  # noqa: BLE001 - it does something: keep it
        return False
    return type(out) is type(sample) and out == sample


def _sqlite_datetime(value: datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME stores for an aware UTC datetime, at C speed."""
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


class Sink:
    """One service's database: bulk writes and counts."""

    def __init__(self, t: Target, pg: Postgres, service: str) -> None:
        self.service = service
        self.postgres = t.backend == "postgres"
        if self.postgres:
            import psycopg

            assert t.database
            self.conn: Any = psycopg.connect(pg.libpq(t.database))
        else:
            self.conn = sqlite3.connect(t.var_dir / f"{service}.db", isolation_level=None)
            self.conn.execute("PRAGMA synchronous=OFF")

    def _name(self, table: str) -> str:
        return f'"{self.service}"."{table}"' if self.postgres else f'"{table}"'

    def write(self, table: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        columns = ", ".join(f'"{n}"' for n in names)
        if self.postgres:
            with self.conn.cursor() as cursor:
                with cursor.copy(f"COPY {self._name(table)} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            self.conn.commit()
        else:
            marks = ", ".join("?" for _ in names)
            self.conn.execute("BEGIN")
            self.conn.executemany(f"INSERT INTO {self._name(table)} ({columns}) VALUES ({marks})", rows)
            self.conn.execute("COMMIT")

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {self._name(table)}").fetchone()[0])

    def analyze(self, tables: list[str]) -> None:
        """PostgreSQL: VACUUM ANALYZE, as autovacuum would soon (SQLite is left as the services leave it)."""
        if not self.postgres:
            return
        self.conn.commit()
        self.conn.autocommit = True
        for table in tables:
            self.conn.execute(f"VACUUM ANALYZE {self._name(table)}")

    def close(self) -> None:
        self.conn.close()


@contextmanager
def _sink(t: Target, pg: Postgres, service: str) -> Iterator[Sink]:
    sink = Sink(t, pg, service)
    try:
        yield sink
    finally:
        sink.close()


def _tables(service: str) -> dict[str, Any]:
    import importlib

    models = importlib.import_module(f"services.{service}.models")
    return {getattr(m, "__table__", m).name: getattr(m, "__table__", m) for m in models.TABLES}


def write(t: Target, pg: Postgres, generator: Generator) -> dict[str, int]:
    if t.backend == "postgres":
        from sqlalchemy.dialects.postgresql import psycopg as dialect_module
    else:
        from sqlalchemy.dialects.sqlite import pysqlite as dialect_module  # type: ignore[no-redef]
    dialect = dialect_module.dialect()
    tables = {name: _tables(name) for name in SERVICES}
    sinks = {name: Sink(t, pg, name) for name in SERVICES}
    columns: dict[str, Columns] = {}
    counts: dict[str, int] = {}
    began = time.monotonic()
    try:
        done = 0
        for batch in generator.batches():
            for table, rows in batch.tables.items():
                service = TABLE_SERVICE[table]
                if table not in tables[service]:
                    continue  # the service no longer keeps it
                if not rows:
                    continue
                if table not in columns:
                    columns[table] = Columns(tables[service][table], dialect, rows)
                spec = columns[table]
                sinks[service].write(table, spec.names, spec.convert(rows))
                counts[table] = counts.get(table, 0) + len(rows)
            done = min(done + FLUSH_EVERY, generator.cases)
            if done % 100_000 == 0 or done == generator.cases:
                say(f"    {done:,} cases ({time.monotonic() - began:.0f} s)")
        for service, minted_here in (("agents", "village"), ("intake", "hall")):
            if "case_sequence" not in tables[service]:
                continue
            rows = [
                {"org_code": org, "day": day, "last": last}
                for (org, day), last in generator.sequences.items()
                if (level_of(org) == "village") == (minted_here == "village")
            ]
            if rows:
                spec = Columns(tables[service]["case_sequence"], dialect, rows)
                sinks[service].write("case_sequence", spec.names, spec.convert(rows))
                counts[f"{service}.case_sequence"] = len(rows)
        for table, rows in generator.counter_rows().items():
            if table not in tables["supervision"] or not rows:
                continue  # an older tree counts per request
            spec = Columns(tables["supervision"][table], dialect, rows)
            sinks["supervision"].write(table, spec.names, spec.convert(rows))
            counts[table] = len(rows)
        say("    analysing ...")
        for service, sink in sinks.items():
            sink.analyze(
                [
                    table
                    for table, owner in TABLE_SERVICE.items()
                    if owner == service and table in tables[service]
                ]
            )
    finally:
        for sink in sinks.values():
            sink.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    from bench.common import BenchSettings, clean_environment

    parser = argparse.ArgumentParser(description="Load (or check) the bench data set")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], action="append")
    parser.add_argument("--cases", type=int, default=None)
    parser.add_argument("--force", action="store_true", help="load again even when a complete one is there")
    args = parser.parse_args(argv)
    clean_environment()
    s = BenchSettings.from_env()
    pg = Postgres(s.database_url)
    for backend in args.backend or list(s.backends):
        ensure(backend, args.cases or s.cases, pg, force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
