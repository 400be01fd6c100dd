"""Forms of the customer portal."""
from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.exceptions import TicketError
from tickets.models import Category
from tickets.services import check_upload

MAX_FILES = 5

class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True

class FilesField(forms.FileField):
    """Up to MAX_FILES files, each checked for size, type and content."""

    def __init__(self, **kwargs):
        super().__init__(widget=MultipleFileInput(attrs={"multiple": True}), required=False, **kwargs)

    def clean(self, data, initial=None):
        uploads = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if len(uploads) > MAX_FILES:
            raise forms.ValidationError(_("Please attach at most %(n)d files.") % {"n": MAX_FILES})
        for upload in uploads:
            super().clean(upload, initial)
            try:
                check_upload(upload)
            except TicketError as exc:
                raise forms.ValidationError(f"{upload.name}: {exc}") from None
        return uploads

class ReportForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Your e-mail"), help_text=_("We send updates and your private link here."))
    subject = forms.CharField(label=_("What is the problem, in a few words?"), max_length=200)
    description = forms.CharField(
        label=_("What happened? What did you try?"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6})
    )
    category = forms.ModelChoiceField(
        label=_("Area"), queryset=Category.objects.filter(is_active=True), required=False,
        empty_label=_("I don't know"), to_field_name="slug",
    )
    files = FilesField(label=_("Screenshots or files (optional)"))
    # A field people do not see and bots fill in.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your message"), max_length=10000, required=False,
                           widget=forms.Textarea(attrs={"rows": 4}))
    files = FilesField(label=_("Files (optional)"))

    def clean(self):
        data = super().clean()
        if not (data.get("body") or "").strip() and not data.get("files"):
            raise forms.ValidationError(_("Write a message or attach a file."))
        return data

class ConfirmForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with the help?"), coerce=int, required=False, empty_value=None,
        choices=[("", "—")] + [(n, str(n)) for n in range(5, 0, -1)],
    )
    comment = forms.CharField(label=_("Anything to add? (optional)"), max_length=5000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))

class NotFixedForm(forms.Form):
    reason = forms.CharField(label=_("What is still wrong?"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Your e-mail"))
