"""Admin for the knowledge base: read-only. Articles are written in the desk (`/desk/kb/`), where every save
keeps a revision; here managers look through articles, their history and how they were used."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from knowledge.models import Article, Deflection, Revision, SuggestionUse, Tag
from tickets.admin import ReadOnlyMixin


class RevisionInline(ReadOnlyMixin, admin.TabularInline):
    model = Revision
    fields = ["version", "at", "editor", "changed", "title", "visibility", "archived"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("history")


@admin.register(Article)
class ArticleAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["title", "category", "visibility", "language", "archived", "updated_by", "updated_at", "version"]
    list_filter = ["visibility", "archived", "language", "category"]
    list_select_related = ["category", "updated_by"]
    search_fields = ["title", "tag_names"]
    fields = ["title", "problem", "solution", "category", "tag_names", "visibility", "language", "archived",
              "source_ticket", "author", "created_at", "updated_by", "updated_at", "version"]
    readonly_fields = fields
    inlines = [RevisionInline]


@admin.register(Tag)
class TagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(SuggestionUse)
class SuggestionUseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "ticket", "article", "solved_ticket", "how", "actor"]
    list_filter = ["how"]
    list_select_related = ["ticket", "article", "solved_ticket", "actor"]
    date_hierarchy = "at"


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "article", "query", "language"]
    list_select_related = ["article"]
    date_hierarchy = "at"
