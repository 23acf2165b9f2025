"""Derive English everyday words (words that cannot name goods or services) from WordNet 3.0.

Usage: python3 assets/lang/everyday/wordnet.py WORDNET_DIR > assets/lang/en.everyday.txt
WORDNET_DIR holds index.noun, data.noun, ... (Debian: apt-get download wordnet-base).
"""
import os, re, sys

D = sys.argv[1]
POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Lexicographer files whose senses may be something a shop sells, does or is asked about
# as a thing: a word with any noun sense here stays unknown to the drafter.
GOODS_NOUN = {4, 5, 6, 8, 10, 13, 17, 18, 20, 25, 27}  # act animal artifact body communication food object person plant shape substance
# A word is goods-like when at least this share of its tagged uses (all parts of speech,
# SemCor counts in cntlist.rev) are such senses; a rare goods sense ("down", feathers)
# does not make an everyday word a product.
GOODS_SHARE = 0.25
GOODS_VERB = {29, 36}  # body care (grooming), creation (sewing, baking)
# Attributes an option of an item is named by: adjectives of these stay unknown.
OPTION_ATTRS = {"size", "color", "colour", "shape", "length", "width", "weight", "texture",
                "hardness", "thickness", "height", "age", "temperature", "flavor", "flavour"}

def read_index(pos):
    out = {}
    for line in open(os.path.join(D, "index." + POS[pos]), encoding="latin-1"):
        if line.startswith(" "):
            continue
        f = line.split()
        lemma, p, synset_cnt, p_cnt = f[0], f[1], int(f[2]), int(f[3])
        rest = f[4 + p_cnt:]
        tag = int(rest[1])
        offs = rest[2:]
        out[lemma] = (tag, offs)
    return out

def read_data(pos):
    out = {}
    for line in open(os.path.join(D, "data." + POS[pos]), encoding="latin-1"):
        if line.startswith(" "):
            continue
        f = line.split(" | ")[0].split()
        off, lex, ss = f[0], int(f[1]), f[2]
        w_cnt = int(f[3], 16)
        words = [f[4 + 2 * i].lower() for i in range(w_cnt)]
        i = 4 + 2 * w_cnt
        p_cnt = int(f[i]); i += 1
        ptrs = []
        for _ in range(p_cnt):
            ptrs.append((f[i], f[i + 1], f[i + 2])); i += 4
        out[off] = (lex, words, ptrs)
    return out

idx = {p: read_index(p) for p in POS}
data = {p: read_data(p) for p in POS}

def hypernyms_reach(off, targets, seen=None):
    seen = seen or set()
    if off in seen:
        return False
    seen.add(off)
    lex, words, ptrs = data["n"][off]
    if any(w in targets for w in words):
        return True
    return any(hypernyms_reach(o, targets, seen) for s, o, p in ptrs if s in ("@", "@i") and p == "n")

def sense_counts():
    """(lemma, pos, synset offset) -> tagged count, from cntlist.rev and the index order."""
    out = {}
    path = os.path.join(D, "cntlist.rev")
    for line in open(path, encoding="latin-1"):
        key, sense_no, cnt = line.split()
        lemma, rest = key.split("%", 1)
        ss_type = rest.split(":")[0]
        pos = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}[ss_type]
        entry = idx[pos].get(lemma)
        if not entry:
            continue
        offs = entry[1]
        i = int(sense_no) - 1
        if 0 <= i < len(offs):
            out[(lemma, pos, offs[i])] = out.get((lemma, pos, offs[i]), 0) + int(cnt)
    return out

COUNTS = sense_counts()

def goods_sense(pos, off):
    """Whether one sense may name goods, a service, a person or an option."""
    if pos == "n":
        if data["n"][off][0] in GOODS_NOUN:
            return True
        return hypernyms_reach(off, {"chromatic_color", "color", "size", "unit_of_measurement"})
    if pos == "v":
        return data["v"][off][0] in GOODS_VERB
    if pos == "a":
        lex, words, ptrs = data["a"][off]
        heads = [off] + [o for s, o, p in ptrs if s == "&"]
        for h in heads:
            if h not in data["a"]:
                continue
            for s, o, p in data["a"][h][2]:
                if s == "=" and p == "n" and any(w in OPTION_ATTRS for w in data["n"][o][1]):
                    return True
                if s == "\\" and p == "n" and data["n"][o][0] in GOODS_NOUN:
                    return True
    return False

def goods_like(lemma):
    """Whether `lemma` may name goods, a service, a person or an option: by its first senses
    or by its tagged uses, either (a word stays unknown unless both say it is everyday)."""
    return by_first_senses(lemma) or by_uses(lemma)


def by_first_senses(lemma):
    """A noun's first sense, a verb's first, an adjective's first two."""
    first = {"n": 1, "v": 1, "a": 2}
    return any(
        goods_sense(pos, off)
        for pos in ("n", "v", "a")
        for off in idx[pos].get(lemma, (0, []))[1][: first[pos]]
    )


def by_uses(lemma):
    """Whether `lemma`'s tagged uses are often goods, a service, a person or an option."""
    # A colour is an option value in every use ("blue" the adjective too).
    if any(hypernyms_reach(off, {"chromatic_color", "color"}) for off in idx["n"].get(lemma, (0, []))[1]):
        return True
    total = goods = 0
    for pos in ("n", "v", "a"):
        if lemma not in idx[pos]:
            continue
        for off in idx[pos][lemma][1]:
            c = COUNTS.get((lemma, pos, off), 0)
            total += c
            if c and goods_sense(pos, off):
                goods += c
    for off in idx["r"].get(lemma, (0, []))[1]:
        total += COUNTS.get((lemma, "r", off), 0)
    # Many tagged uses, hardly any of them goods ("down", "stick"): everyday.
    if total >= 10 and goods < 0.1 * total:
        return False
    if total and goods >= GOODS_SHARE * total:
        return True
    # Otherwise the most frequent senses decide: a goods sense among a noun's first two
    # ("cream": the best of a group, then a food), a verb's first, an adjective's first two.
    first = {"n": 2, "v": 1, "a": 2}
    return any(
        goods_sense(pos, off)
        for pos in ("n", "v", "a")
        for off in idx[pos].get(lemma, (0, []))[1][: first[pos]]
    )

def noun_lemmas(form):
    out = set()
    if form in idx["n"]:
        out.add(form)
    for suf, rep in (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
                     ("shes", "sh"), ("men", "man"), ("ies", "y")):
        if form.endswith(suf):
            b = form[: len(form) - len(suf)] + rep
            if b in idx["n"]:
                out.add(b)
    return out

exc = {}
for p in ("n", "v", "a"):
    for line in open(os.path.join(D, POS[p] + ".exc"), encoding="latin-1"):
        f = line.split()
        for base in f[1:]:
            exc.setdefault(base, set()).add(f[0])
            if p == "n":
                idx_n_exc = True

VOWELS = "aeiou"
def inflect_verb(v):
    forms = {v}
    if v.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(v + "es")
    elif v.endswith("y") and len(v) > 1 and v[-2] not in VOWELS:
        forms.add(v[:-1] + "ies")
    else:
        forms.add(v + "s")
    if v.endswith("e"):
        forms |= {v + "d", v[:-1] + "ing"}
    elif v.endswith("y") and len(v) > 1 and v[-2] not in VOWELS:
        forms |= {v[:-1] + "ied", v + "ing"}
    else:
        forms |= {v + "ed", v + "ing"}
        if len(v) >= 3 and v[-1] not in VOWELS + "wxy" and v[-2] in VOWELS and v[-3] not in VOWELS:
            forms |= {v + v[-1] + "ed", v + v[-1] + "ing"}
    return forms

def inflect_noun(n):
    if n.endswith(("s", "x", "z", "ch", "sh")):
        return {n, n + "es"}
    if n.endswith("y") and len(n) > 1 and n[-2] not in VOWELS:
        return {n, n[:-1] + "ies"}
    return {n, n + "s"}

WORD = re.compile(r"^[a-z]{2,16}$")
out = set()
for p in POS:
    for lemma, (tag, offs) in idx[p].items():
        if tag < 1 or not WORD.match(lemma) or goods_like(lemma):
            continue
        forms = {lemma}
        if p == "v":
            forms |= inflect_verb(lemma)
        elif p == "n":
            forms |= inflect_noun(lemma)
        forms |= exc.get(lemma, set())
        for f in forms:
            if not WORD.match(f):
                continue
            # An inflected form that is itself a noun for goods ("glasses") stays unknown.
            if f != lemma and (goods_like(f) or any(goods_like(b) for b in noun_lemmas(f))):
                continue
            out.add(f)

print("# English everyday words: words whose first senses and tagged uses name no goods, service,")
print("# person or option (colour, size); generated from WordNet 3.0 (SemCor counts) by")
print("# assets/lang/everyday/wordnet.py. WordNet 3.0 Copyright 2006 by Princeton University.")
print("# All rights reserved. (WordNet licence: see assets/lang/everyday/WORDNET-LICENSE.)")
for w in sorted(out):
    print(w)
