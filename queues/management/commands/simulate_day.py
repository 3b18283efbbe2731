"""Play an OPD day against a running Tokenline over HTTP, N times faster than life: patients arrive,
register, take walk-in tokens and book OPD tokens; every active desk calls, starts and completes. For demos (open
the board and watch) and for load. Speaks only the public API, as a desk would; imports no app code.

    python manage.py simulate_day --speed 60 --hours 2            # 2 hours of a day in 2 minutes
    python manage.py simulate_day --url http://127.0.0.1:8000 --username reception --password reception-demo

Bounded: at most --hours (12) of simulated time and --max-requests requests; only 127.0.0.1/localhost unless
--allow-remote.
"""

import json
import random
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from faker import Faker

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TICK = 30  # simulated seconds per step
CATEGORIES = ["WALKIN"] * 5 + ["FOLLOWUP"] * 2 + ["ONLINE"] * 2 + ["PRIORITY_PAID"]


class Api:
    """A tiny JSON client with a token; counts requests, statuses and latencies."""

    def __init__(self, url: str, max_requests: int):
        self.url, self.token, self.max_requests = url.rstrip("/"), None, max_requests
        self.statuses, self.latencies = Counter(), []

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        if sum(self.statuses.values()) >= self.max_requests:
            raise StopIteration
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1
        try:
            return status, json.loads(payload or b"{}")
        except ValueError:
            return status, {}


class Command(BaseCommand):
    help = "Play an OPD day against a running server over HTTP at --speed times real time (demo and load)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--username", default="reception")
        parser.add_argument("--password", default="reception-demo")
        parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (60)")
        parser.add_argument("--hours", type=float, default=1.0, help="simulated hours to play (at most 12)")
        parser.add_argument("--arrivals", type=float, default=40.0, help="patients arriving per simulated hour")
        parser.add_argument("--opd-share", type=float, default=0.3, help="share of patients also booking OPD")
        parser.add_argument("--max-requests", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--allow-remote", action="store_true", help="allow a host other than 127.0.0.1")

    def handle(self, *args, url, username, password, speed, hours, arrivals, opd_share, max_requests, seed,
               allow_remote, **options):
        if urllib.parse.urlsplit(url).hostname not in LOCAL_HOSTS and not allow_remote:
            raise CommandError(f"{url} is not this machine; pass --allow-remote to play a day against it.")
        if not 0 < hours <= 12 or speed <= 0 or arrivals <= 0:
            raise CommandError("--hours must be in (0, 12], --speed and --arrivals above 0.")
        rng, api = random.Random(seed), Api(url, max_requests)
        status, body = api("POST", "/api/v1/auth/token/", {"username": username, "password": password})
        if status != 200:
            raise CommandError(f"Login as {username} failed ({status}).")
        api.token = body["token"]
        day = Day(api, rng, Faker("en_PK"), opd_share)
        started, simulated = time.monotonic(), 0.0
        next_arrival = rng.expovariate(arrivals / 3600)
        try:
            while simulated < hours * 3600:
                while next_arrival <= simulated:
                    day.arrive()
                    next_arrival += rng.expovariate(arrivals / 3600)
                day.desks_work(simulated)
                simulated += TICK
                time.sleep(max(0.0, started + simulated / speed - time.monotonic()))
        except StopIteration:
            self.stdout.write(f"Stopped at --max-requests {max_requests}.")
        p = sorted(api.latencies)
        self.stdout.write(
            f"Played {simulated / 3600:.2f} h in {time.monotonic() - started:.1f} s: {day.arrived} patients, "
            f"{day.visits} tokens, {day.booked} OPD bookings, {day.completed} consultations completed; "
            f"{len(p)} requests {dict(sorted(api.statuses.items()))}, p50 {statistics.median(p) * 1000:.0f} ms, "
            f"p99 {p[int(len(p) * 0.99) - 1] * 1000 if p else 0:.0f} ms."
        )


class Day:
    """What happens at the hospital: arrivals at reception, desks serving their queues."""

    def __init__(self, api: Api, rng: random.Random, fake: Faker, opd_share: float):
        self.api, self.rng, self.fake, self.opd_share = api, rng, fake, opd_share
        self.arrived = self.visits = self.booked = self.completed = 0
        _, queues = api("GET", "/api/v1/queues/")
        self.queues = [q["code"] for q in queues.get("results", queues if isinstance(queues, list) else [])
                       if q.get("is_active")]
        _, desks = api("GET", "/api/v1/desks/")
        self.desks = {d["id"]: {"visit": None, "until": 0.0}
                      for d in desks.get("results", desks if isinstance(desks, list) else []) if d.get("is_active")}
        for status, stage in (("called", "called"), ("in_consultation", "started")):  # patients already at desks
            _, at_desks = api("GET", f"/api/v1/visits/?status={status}")
            for visit in at_desks.get("results", []):
                if visit["desk"] in self.desks:
                    self.desks[visit["desk"]].update(visit=visit["id"], stage=stage)
        _, slots = api("GET", f"/api/v1/slots/?date={timezone.localdate().isoformat()}")
        self.slots = [s["id"] for s in slots.get("results", slots if isinstance(slots, list) else [])
                      if s.get("status") != "CANCELLED"]

    def arrive(self) -> None:
        sex = self.rng.choice("MF")
        status, patient = self.api("POST", "/api/v1/patients/", {
            "full_name": self.fake.name_male() if sex == "M" else self.fake.name_female(),
            "father_name": self.fake.name_male(), "sex": sex,
        })
        if status != 201:
            return
        self.arrived += 1
        if self.queues:
            queue = self.rng.choices(self.queues, weights=[6 if q == "GEN" else 2 for q in self.queues])[0]
            priority = self.rng.choices(["high", "medium", "low"], weights=[1, 7, 2])[0]
            status, _ = self.api("POST", "/api/v1/visits/", {"patient": patient["id"], "queue": queue,
                                                              "priority": priority})
            self.visits += status == 201
        if self.slots and self.rng.random() < self.opd_share:
            status, _ = self.api("POST", "/api/v1/tokens/", {"slot_id": self.rng.choice(self.slots),
                                                             "patient_id": patient["id"],
                                                             "category": self.rng.choice(CATEGORIES)})
            self.booked += status in (201, 202)

    def desks_work(self, now: float) -> None:
        """Each free desk calls next; a called patient walks in after a minute; a consultation takes 3-12 min."""
        for desk_id, desk in self.desks.items():
            if now < desk["until"]:
                continue
            visit = desk["visit"]
            if visit is None:
                status, called = self.api("POST", f"/api/v1/desks/{desk_id}/call-next/")
                if status == 200:
                    desk["visit"], desk["stage"], desk["until"] = called["id"], "called", now + 60
            elif desk["stage"] == "called":
                self.api("POST", f"/api/v1/visits/{visit}/start/")
                desk["stage"], desk["until"] = "started", now + self.rng.uniform(180, 720)
            else:
                status, _ = self.api("POST", f"/api/v1/visits/{visit}/complete/")
                self.completed += status == 200
                desk["visit"], desk["until"] = None, now
