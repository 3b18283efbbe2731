"""The text a patient receives, in Urdu and English. One template per kind; placeholders: {hospital},
{number}, {room} and the notice's extra values ({delay_minutes}, {starts_at}, {ahead})."""

from django.conf import settings

from core import signals

TEMPLATES = {
    "en": {
        signals.VISIT_CALLED: "{hospital}: token {number}, please come to {room}.",
        signals.VISIT_CALLED_AGAIN: "{hospital}: token {number}, you are called again: please come to {room} now.",
        signals.TOKEN_CALLED: "{hospital}: token {number}, {room} will see you now.",
        signals.TOKEN_PROMOTED: "{hospital}: a place is free. Your token with {room} is {number}, at {starts_at}.",
        signals.SLOT_DELAYED: "{hospital}: {room} is running {delay_minutes} minutes late. Token {number}, now "
                              "about {starts_at}.",
        signals.SLOT_CANCELLED: "{hospital}: {room}'s OPD at {starts_at} is cancelled, and token {number} with it. "
                                "Please book again.",
        signals.REMINDER_EVENING: "{hospital}: reminder, token {number} with {room} tomorrow at {starts_at}.",
        signals.REMINDER_SOON: "{hospital}: reminder, token {number} with {room} today at {starts_at}.",
        signals.VISIT_AHEAD: "{hospital}: token {number}, {ahead} patients are ahead of you for {room}. Please stay "
                             "close.",
    },
    "ur": {
        signals.VISIT_CALLED: "{hospital}: ٹوکن {number}، براہِ کرم {room} پر تشریف لائیں۔",
        signals.VISIT_CALLED_AGAIN: "{hospital}: ٹوکن {number}، آپ کو دوبارہ بلایا جا رہا ہے، براہِ کرم ابھی {room} "
                                    "پر تشریف لائیں۔",
        signals.TOKEN_CALLED: "{hospital}: ٹوکن {number}، {room} اب آپ کو دیکھیں گے۔",
        signals.TOKEN_PROMOTED: "{hospital}: جگہ خالی ہو گئی ہے۔ {room} کے ساتھ آپ کا ٹوکن {number} ہے، وقت {starts_at}۔",
        signals.SLOT_DELAYED: "{hospital}: {room} {delay_minutes} منٹ تاخیر سے ہیں۔ ٹوکن {number}، اب تقریباً "
                              "{starts_at} بجے۔",
        signals.SLOT_CANCELLED: "{hospital}: {room} کی {starts_at} بجے کی او پی ڈی منسوخ ہو گئی ہے، اور ٹوکن {number} "
                                "بھی۔ براہِ کرم دوبارہ وقت لیں۔",
        signals.REMINDER_EVENING: "{hospital}: یاد دہانی، {room} کے ساتھ ٹوکن {number} کل {starts_at} بجے ہے۔",
        signals.REMINDER_SOON: "{hospital}: یاد دہانی، {room} کے ساتھ ٹوکن {number} آج {starts_at} بجے ہے۔",
        signals.VISIT_AHEAD: "{hospital}: ٹوکن {number}، {room} کے لیے آپ سے پہلے {ahead} مریض ہیں۔ براہِ کرم قریب "
                             "رہیں۔",
    },
}


def render(*, kind: str, language: str, number: str, room: str, extra: dict) -> str:
    """The message for a notification in `language` (ur or en; English for any other)."""
    template = TEMPLATES.get(language, TEMPLATES["en"])[kind]
    return template.format(**extra, hospital=settings.HOSPITAL_NAME, number=number, room=room)
