"""Django's PostgreSQL backend (ENGINE "config.postgresql"), with every new connection fenced: a server on an older
timeline than one this process already used is refused (core.replication.fence), so an old primary restarted as a
primary after its standby was promoted never issues a number again."""

from django.db.backends.postgresql import base

from core.replication import fence


class DatabaseWrapper(base.DatabaseWrapper):
    def _configure_connection(self, connection):
        """Django's setup of a new connection (also psycopg_pool's `configure`, once per pooled connection), then
        `fence`. Returns whether the caller must commit (the fence's query opened a transaction when the connection
        is not in autocommit yet)."""
        commit = super()._configure_connection(connection)
        fence(connection)
        return commit or not connection.autocommit
