"""How alike two texts are, in plain Python: the key words of a text and a score between 0 and 1.

Used where the candidates are few (a requester's recent tickets, for repeat detection) and as the search
fallback on databases without full-text search. On PostgreSQL the knowledge base ranks with its own
full-text index; the key words chosen here are what its queries ask for.
"""
import math
import re
from collections import Counter
from functools import lru_cache

WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)

# Words that say nothing about the problem, in the two languages the product ships.
STOP_WORDS = frozenset(
    """
    a about after again all also am an and any are as at be been before being but by can cannot could did do does
    doing done dont for from get gets getting got had has have having he her here him his how i if in into is it its
    just me mine more most my no nor not now of off on once only or other our out over own please same she should so
    some still such than thank thanks that the their them then there these they this those through to too under
    until up us very was we were what when where which while who why will with would yes yet you your hello hi dear
    regards help issue problem problems work works working anymore every since today yesterday morning
    doesn don won isn aren wasn weren haven hasn hadn couldn wouldn shouldn didn ain cant wont
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
    еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
    потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без будто чего раз тоже
    себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтоб нее сейчас
    были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
    них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более
    всегда конечно всю между здравствуйте спасибо пожалуйста добрый день помогите проблема
    """.split()
)

# Russian endings stripped so that "принтера"/"принтер" and "печатает"/"печатают" meet (a light stemmer: the
# fallback needs agreement between forms of a word, not linguistics). English has its own rules below.
_RUSSIAN_ENDINGS = sorted(
    (
        "ами ями ого его ому ему ыми ими ах ях ам ям ов ев ей ой ий ый ая яя ое ее ую юю ом ем ы и а я о е у ю ь "
        "ается ются ает яет ают яют ует уют ить ать ять еть ет ют ит ят ишь ешь"
    ).split(),
    key=len,
    reverse=True,
)
# "doesn't" is split at the apostrophe: what is left of a contraction says nothing.
_CONTRACTION = re.compile(r"[\'’](t|s|ll|ve|re|d|m)\b", re.IGNORECASE)


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    if word.isascii():
        return _english_stem(word)
    for ending in _RUSSIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def _english_stem(word: str) -> str:
    """drives/drive → driv, licences/licence → licenc, meetings/meeting → meet, mapped/map → map."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for ending in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # mapped → mapp → map
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The meaningful words of `text`, lower-cased, in order, stop words left out (repeats kept)."""
    text = _CONTRACTION.sub("", (text or "").lower()).replace("ё", "е")
    return [w for w in WORD.findall(text) if w not in STOP_WORDS and not w.isdigit()]


def key_words(*texts: str, limit: int = 6) -> list[str]:
    """Up to `limit` distinct words that best name the problem: the earlier texts (the subject) first, then the
    words that come back most often in the rest."""
    chosen: list[str] = []
    seen: set[str] = set()
    for text in texts[:1]:
        for word in words(text):
            if stem(word) not in seen:
                seen.add(stem(word))
                chosen.append(word)
    rest = Counter(w for text in texts[1:] for w in words(text) if stem(w) not in seen)
    for word, _count in rest.most_common():
        if stem(word) not in seen:
            seen.add(stem(word))
            chosen.append(word)
    return chosen[:limit]


def profile(text: str) -> Counter:
    """The stems of `text` with their counts."""
    return Counter(stem(word) for word in words(text))


def similarity(first: "str | Counter", second: "str | Counter") -> float:
    """Cosine similarity of the two texts' stems (0: nothing in common, 1: the same words)."""
    a = first if isinstance(first, Counter) else profile(first)
    b = second if isinstance(second, Counter) else profile(second)
    if not a or not b:
        return 0.0
    dot = sum(count * b[stem_] for stem_, count in a.items() if stem_ in b)
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm if norm else 0.0
