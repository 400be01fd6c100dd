"""The knowledge base: articles with their revisions, and the record of how knowledge was used — suggestions
an agent took on a ticket, and contacts a public article answered before they became tickets.

Nothing here is written outside `knowledge.services`.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Category, Ticket

# Between the names in `Article.tag_names` (a tag may contain spaces, never a comma).
TAG_SEPARATOR = ", "


class Visibility(models.TextChoices):
    INTERNAL = "internal", _("internal (agents only)")
    PUBLIC = "public", _("public (customers too)")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Article(models.Model):
    """A problem and its solution, written in Markdown. Every save keeps a revision."""

    title = models.CharField(_("title"), max_length=200)
    problem = models.TextField(_("problem"), help_text=_("What the customer sees: symptoms, error messages."))
    solution = models.TextField(_("solution"), help_text=_("What fixes it, step by step (Markdown)."))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="articles",
                                 verbose_name=_("category"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles", verbose_name=_("tags"))
    # The tag names, TAG_SEPARATOR between them: part of the search vector (a generated column cannot read the
    # tag table), and what pages show without querying the tags.
    tag_names = models.CharField(_("tag names"), max_length=500, blank=True, editable=False)
    visibility = models.CharField(_("visibility"), max_length=8, choices=Visibility.choices,
                                  default=Visibility.INTERNAL)
    # Blank: shown whatever the reader's language.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    archived = models.BooleanField(_("archived"), default=False,
                                   help_text=_("Archived articles are neither suggested nor shown to customers."))
    source_ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      verbose_name=_("published from ticket"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("author"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("last changed by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    # Bumped by every change; an edit made on an older version is refused.
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [
            models.Index(fields=["visibility", "archived", "category"], name="article_listing"),
            models.Index(fields=["source_ticket"], condition=Q(source_ticket__isnull=False), name="article_source"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("knowledge:article", args=[self.pk])

    @property
    def tag_list(self) -> list[str]:
        return self.tag_names.split(TAG_SEPARATOR) if self.tag_names else []

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC and not self.archived


class Revision(models.Model):
    """An article as one save left it: who changed what, and when."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions",
                                verbose_name=_("article"))
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    problem = models.TextField(_("problem"))
    solution = models.TextField(_("solution"))
    category_name = models.CharField(_("category"), max_length=100, blank=True)
    tag_names = models.CharField(_("tags"), max_length=500, blank=True)
    visibility = models.CharField(_("visibility"), max_length=8, choices=Visibility.choices)
    language = models.CharField(_("language"), max_length=8, blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    changed = models.JSONField(_("changed fields"), default=list)
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("changed by"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["article", "-version"]
        verbose_name = _("article revision")
        verbose_name_plural = _("article revisions")
        constraints = [models.UniqueConstraint(fields=["article", "version"], name="revision_article_version")]

    def __str__(self):
        return f"{self.title} v{self.version}"


class Use(models.TextChoices):
    LINKED = "linked", _("linked to the ticket")
    PASTED = "pasted", _("pasted into a reply")


class SuggestionUse(models.Model):
    """An agent used a suggestion on a ticket: an earlier resolved ticket or an article."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="suggestion_uses",
                               verbose_name=_("ticket"))
    article = models.ForeignKey(Article, on_delete=models.CASCADE, null=True, blank=True, related_name="uses",
                                verbose_name=_("article"))
    solved_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                      verbose_name=_("earlier ticket"))
    how = models.CharField(_("how"), max_length=8, choices=Use.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("agent"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("suggestion used")
        verbose_name_plural = _("suggestions used")
        indexes = [
            models.Index(fields=["at"], name="suggestion_use_at"),
            models.Index(fields=["ticket"], name="suggestion_use_ticket"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(article__isnull=False, solved_ticket__isnull=True)
                | Q(article__isnull=True, solved_ticket__isnull=False),
                name="suggestion_use_one_target",
            )
        ]

    def __str__(self):
        return f"{self.ticket} ← {self.article or self.solved_ticket}"


class Deflection(models.Model):
    """A customer said a public article solved their problem before sending a ticket: one contact avoided."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="deflections",
                                verbose_name=_("article"))
    query = models.CharField(_("what the customer typed"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("deflected contact")
        verbose_name_plural = _("deflected contacts")
        indexes = [models.Index(fields=["at"], name="deflection_at")]

    def __str__(self):
        return f"{self.article} @ {self.at:%Y-%m-%d %H:%M}"
