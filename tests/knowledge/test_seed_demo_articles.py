"""The demo articles `make run` adds after the demo tickets."""
import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article, Revision, Visibility

pytestmark = pytest.mark.django_db


def test_demo_articles_are_written_once_by_the_demo_agent(settings):
    settings.DEBUG = True
    call_command("seed_demo", tickets=3)
    call_command("seed_demo_articles")
    articles = Article.objects.all()
    assert articles.count() == 7 and Revision.objects.count() == 7
    assert {a.author.username for a in articles} == {"l1"}
    assert articles.filter(visibility=Visibility.PUBLIC, language="ru").count() == 1
    assert articles.filter(visibility=Visibility.INTERNAL).count() == 1
    call_command("seed_demo_articles")
    assert Article.objects.count() == 7


def test_demo_articles_refuse_without_debug_or_staff(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo_articles")
    settings.DEBUG = True
    with pytest.raises(CommandError):
        call_command("seed_demo_articles")
    assert not Article.objects.exists()
