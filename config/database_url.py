"""DATABASE_URL for PostgreSQL, multi-host form included, parsed strictly: a form that would be misread stops
startup with a message naming the problem (django-environ turns `h1,h2:5432,5433` into the hosts "h1", "h2" and
"5433", and a failover then goes nowhere).

Supported: `postgres://user:password@host:port/name`, a Unix socket (`postgres://user@/name?host=/run/postgresql`),
and several hosts, each with its own port, for failover: `postgres://user@db1:5432,db2:5432/name?target_session_attrs=read-write`.
libpq then tries the hosts in order and keeps the first that accepts writes, so after a standby is promoted new
connections reach it with no change here. Several hosts without `target_session_attrs=read-write` (or `primary`) are
refused: a connection could land on a read-only standby.
"""

import re
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\],]+)(?::(\d*))?")
EXAMPLE = "postgres://tokenline@db1:5432,db2:5432/tokenline?target_session_attrs=read-write"


def database_config(url: str) -> dict:
    """Django's DATABASES entry for `url` (django-environ's parse, with HOST and PORT read here).

    Returns: the dict of `environ.Env.db_url_config`, with HOST "h1,h2" and PORT "5432,5433" for several hosts
        (libpq's lists, one port per host, 5432 where none was given).
    Raises:
        ImproperlyConfigured: a host part that is not `host[:port]` (e.g. a bare port in the host list, as in
            `h1,h2:5432,5433`), or several hosts without `target_session_attrs=read-write`/`primary`.
    """
    config = environ.Env.db_url_config(url)
    try:
        netloc = urlsplit(url).netloc
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be read: {exc}.") from None
    hosts_part = netloc.rpartition("@")[2]
    if not hosts_part:  # a Unix socket (?host=/path) or libpq's defaults
        return config
    hosts, ports = [], []
    for item in hosts_part.split(","):
        match = _HOST.fullmatch(item)
        if not match or match[1].isdigit():
            raise ImproperlyConfigured(
                f"DATABASE_URL: {item!r} is not a host[:port]. With several hosts, give each its own port: {EXAMPLE}"
            )
        hosts.append(match[1].strip("[]"))
        ports.append(match[2] or "")
    if len(hosts) == 1:
        config["HOST"], config["PORT"] = hosts[0], int(ports[0]) if ports[0] else ""
        return config
    attrs = (config.get("OPTIONS") or {}).get("target_session_attrs")
    if attrs not in ("read-write", "primary"):
        raise ImproperlyConfigured(
            f"DATABASE_URL names {len(hosts)} hosts without target_session_attrs=read-write: connections could "
            f"reach a read-only standby. Write it as {EXAMPLE}"
        )
    config["HOST"], config["PORT"] = ",".join(hosts), ",".join(port or "5432" for port in ports)
    return config
