"""`bin/dev.py serve` stops the embedded PostgreSQL after the server: config.embedded_db's stop."""

import warnings

from config.embedded_db import stop_embedded_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pgserver
    from pgserver.utils import PostmasterInfo


def test_stop_embedded_server_stops_a_server_that_a_killed_process_left_running(tmp_path):
    pgdata = tmp_path / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # as a process that dies by a signal: no cleanup
    assert "(1 row)" in server.psql("SELECT 1;")
    assert PostmasterInfo.read_from_pgdata(pgdata).is_running()
    assert stop_embedded_server(pgdata) is True
    info = PostmasterInfo.read_from_pgdata(pgdata)
    assert info is None or not info.is_running()
    assert not (pgdata / ".handle_pids.json").exists()
    assert stop_embedded_server(pgdata) is False  # nothing running: nothing to do
