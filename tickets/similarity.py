"""How alike two texts are, in plain Python: the key words of a text and a score between 0 and 1.

Used where the candidates are few (a requester's recent tickets, for repeat detection) and as the search
fallback on databases without full-text search. On PostgreSQL the knowledge base ranks with its own
full-text index; the key words chosen here are what its queries ask for.
"""
import math
import re
from collections import Counter

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
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
    еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
    потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без будто чего раз тоже
    себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтоб нее сейчас
    были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
    них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более
    всегда конечно всю между здравствуйте спасибо пожалуйста добрый день помогите проблема
    """.split()
)

# Endings stripped so that "printers"/"printer" and "принтера"/"принтер" meet (a light stemmer: the
# fallback needs agreement between forms of a word, not linguistics).
_ENDINGS = sorted(
    (
        "ing ed es s ly ation ations "
        "ами ями ого его ому ему ыми ими ах ях ам ям ов ев ей ой ий ый ая яя ое ее ую юю ом ем ы и а я о е у ю ь "
        "ается ются ает яет ают яют ует уют ить ать ять еть ет ют ит ят ишь ешь"
    ).split(),
    key=len,
    reverse=True,
)


def stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def words(text: str) -> list[str]:
    """The meaningful words of `text`, lower-cased, in order, stop words left out (repeats kept)."""
    return [w for w in WORD.findall((text or "").lower()) if w not in STOP_WORDS and not w.isdigit()]


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
