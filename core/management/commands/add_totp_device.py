"""`manage.py add_totp_device USERNAME`: enrol an authenticator app for a staff user's admin login (TOTP)."""

import io

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    """Creates a confirmed TOTPDevice for USERNAME (CommandError: no such user, or not staff) and prints its URL."""

    help = ("Give a staff user a TOTP device and print its otpauth:// URL and QR code to scan with an authenticator "
            "app (the first admin's bootstrap; later admins can add devices in the admin under TOTP devices).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="the device's name, shown at login")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff; only staff log in to the admin.")
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        self.stdout.write(f"Scan with the authenticator app (or type the URL in):\n{device.config_url}\n")
        picture = io.StringIO()
        segno.make(device.config_url).terminal(out=picture, compact=True)
        self.stdout.write(picture.getvalue())
