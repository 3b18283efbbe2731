"""Admin pieces shared by every app."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by those with the view permission; nobody adds, changes or deletes rows here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TokenlineAdminSite(OTPAdminSite):
    """The admin site; with TOKENLINE_ADMIN_REQUIRE_2FA (on unless DEBUG) it is django-otp's OTPAdminSite: the login
    form asks for a TOTP code as well, and a session that was not verified with one is treated as not staff. The
    setting is read on each request, so tests and a changed environment need no new URLconf. core.apps installs this
    class on `admin.site`, where every app has registered its models."""

    @staticmethod
    def requires_second_factor() -> bool:
        """Whether the admin asks for a TOTP code now (TOKENLINE_ADMIN_REQUIRE_2FA)."""
        return settings.TOKENLINE_ADMIN_REQUIRE_2FA

    @property
    def login_form(self):
        """Password and TOTP code when required, Django's password form otherwise."""
        return OTPAdminAuthenticationForm if self.requires_second_factor() else AdminAuthenticationForm

    @property
    def login_template(self):
        """django-otp's login page (with the code field) when required; None: Django's."""
        return OTPAdminSite.login_template if self.requires_second_factor() else None

    def has_permission(self, request):
        """Active staff, and when required verified with a TOTP code in this session."""
        if self.requires_second_factor():
            return super().has_permission(request)  # staff, and verified by a device this session
        return AdminSite.has_permission(self, request)
