"""API keys of DRF's authtoken table (stored as given, never ending) become knox tokens (a SHA-512 digest, an
expiry), and the plaintext table is emptied.

Each key keeps working unchanged, so lab terminals and integrations configured with one need no visit: the digest is
that of the same key, found by core.authentication as any knox token. These keys were handed out to last, so each
gets TOKENLINE_TERMINAL_KEY_DAYS from now; replace them earlier from the admin. Not reversible: a digest does not give
the key back (migrating backwards leaves no DRF keys; issue new ones).
"""

import datetime

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS


def hash_keys(apps, schema_editor):
    LegacyToken = apps.get_model("authtoken", "Token")
    AuthToken = apps.get_model("knox", "AuthToken")
    expiry = timezone.now() + datetime.timedelta(days=settings.TOKENLINE_TERMINAL_KEY_DAYS)
    AuthToken.objects.bulk_create(
        [AuthToken(digest=hash_token(legacy.key), token_key=legacy.key[:CONSTANTS.TOKEN_KEY_LENGTH],
                   user_id=legacy.user_id, expiry=expiry)
         for legacy in LegacyToken.objects.all()],
        ignore_conflicts=True,
    )
    LegacyToken.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(hash_keys, migrations.RunPython.noop)]
