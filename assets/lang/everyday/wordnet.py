"""Derive English everyday words (words that cannot name goods or services) from WordNet 3.0.

Usage: python3 assets/lang/everyday/wordnet.py WORDNET_DIR > assets/lang/en.everyday.txt
WORDNET_DIR holds index.noun, data.noun, ... (Debian: apt-get download wordnet-base).
"""
import os, re, sys

D = sys.argv[1]
POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Lexicographer files whose senses may be something a shop sells, does or is asked about
# as a thing: a word with any noun sense here stays unknown to the drafter.
GOODS_NOUN = {4, 5, 6, 8, 10, 13, 17, 18, 20, 21, 23, 25, 27}  # act animal artifact body communication food object person plant possession quantity shape substance
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

def goods_like(lemma):
    """Whether some sense of `lemma` may name goods, a service, a person or an option."""
    if lemma in idx["n"]:
        for off in idx["n"][lemma][1][:1]:
            lex = data["n"][off][0]
            if lex in GOODS_NOUN:
                return True
            if hypernyms_reach(off, {"chromatic_color", "color", "size"}):
                return True
    if lemma in idx["v"]:
        if any(data["v"][off][0] in GOODS_VERB for off in idx["v"][lemma][1][:1]):
            return True
    for pos in ("a",):
        if lemma in idx[pos]:
            for off in idx[pos][lemma][1][:2]:
                lex, words, ptrs = data[pos][off]
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

print("# English everyday words: words whose most frequent sense names no goods, service, person")
print("# or an option (colour, size); generated from WordNet 3.0 by")
print("# assets/lang/everyday/wordnet.py. WordNet 3.0 Copyright 2006 by Princeton University.")
print("# All rights reserved. (WordNet licence: see assets/lang/everyday/WORDNET-LICENSE.)")
for w in sorted(out):
    print(w)
