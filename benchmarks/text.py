"""A seeded synthetic text corpus, for the suites that need text without a download.

Real corpora (20 newsgroups, IMDb, ...) are fetched from the network, which the
benchmarks may not do. This generator reproduces what makes text hard for a
linear model, in a few seconds and the same bits for the same seed:

- a **Zipf vocabulary**: the word of frequency rank ``r`` has probability
  proportional to ``1 / (r + 2.7)^1.07`` (the Zipf-Mandelbrot law fitted to
  English), so a handful of words fill most of a document and most of the
  vocabulary is seen a few times in the whole corpus: wide, sparse, heavy-tailed
  columns;
- **classes with their own word preferences**: each class favours its own random
  set of words (a few percent of the vocabulary, drawn from all frequency ranks)
  by a factor, so every class is a tilted copy of the same Zipf law. Topic words
  are mixed with the shared background, so the classes overlap and test accuracy
  is not 1;
- **document lengths** drawn from a log-normal law (median ~ 120 tokens, a long
  right tail), as real documents are.

Documents are strings of space-separated tokens ``w0``, ``w1``, ..., ready for
``TfidfVectorizer``, ``CountVectorizer`` or ``HashingVectorizer``; :func:`text_data`
turns the corpus into a train/test split of float64 CSR matrices, once per process
for each vectorizer setting, so that several suites share one vectorization.
"""

import functools

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.model_selection import train_test_split

N_DOCUMENTS = 20_000
N_CLASSES = 5
VOCABULARY = 50_000


def corpus(n_documents=N_DOCUMENTS, n_classes=N_CLASSES, vocabulary=VOCABULARY,
           topic_fraction=0.03, topic_boost=2.0, topic_share=0.04, median_length=120,
           random_state=0):
    """Documents and their class labels.

    Parameters
    ----------
    n_documents, n_classes, vocabulary : int
        Size of the corpus, number of classes, number of distinct words.
    topic_fraction : float
        Share of the vocabulary each class prefers.
    topic_boost : float
        How much more likely a class's preferred word is than in the background.
    topic_share : float
        Share of a document's tokens drawn from its class's preferred words
        alone (the rest come from the tilted background law).
    median_length : int
        Median document length in tokens.
    random_state : int

    Returns
    -------
    documents : list of str
    labels : ndarray of shape (n_documents,)
    """
    rng = np.random.default_rng(random_state)
    rank = np.arange(vocabulary, dtype=np.float64)
    zipf = 1.0 / (rank + 2.7) ** 1.07
    zipf /= zipf.sum()
    words = np.array([f"w{i}" for i in range(vocabulary)])
    n_topic = max(1, int(topic_fraction * vocabulary))
    background, topic = [], []
    for _ in range(n_classes):
        preferred = rng.choice(vocabulary, size=n_topic, replace=False)
        tilted = zipf.copy()
        tilted[preferred] *= topic_boost
        background.append(np.cumsum(tilted / tilted.sum()))
        own = zipf[preferred] / zipf[preferred].sum()
        topic.append((preferred, np.cumsum(own)))
    labels = rng.integers(0, n_classes, n_documents)
    lengths = np.maximum(5, rng.lognormal(np.log(median_length), 0.6, n_documents)).astype(int)
    documents = []
    for label, length in zip(labels, lengths):
        n_own = rng.binomial(length, topic_share)
        cdf = background[label]
        drawn = np.searchsorted(cdf, rng.random(length - n_own) * cdf[-1])
        preferred, own_cdf = topic[label]
        own = preferred[np.searchsorted(own_cdf, rng.random(n_own) * own_cdf[-1])]
        tokens = np.concatenate([np.minimum(drawn, vocabulary - 1), own])
        documents.append(" ".join(words[tokens]))
    return documents, labels


# -- vectorized splits, shared by the text suites ------------------------------

# The quick run's corpus: a quarter of the documents, same laws.
QUICK_DOCUMENTS = 5_000
TEST_SIZE = 0.2
VECTORIZERS = ("tfidf", "hashing")


@functools.lru_cache(maxsize=2)
def _split_documents(n_documents):
    """The corpus split once per process: ``(docs_train, docs_test, y_train, y_test)``."""
    documents, labels = corpus(n_documents=n_documents)
    return train_test_split(documents, labels, test_size=TEST_SIZE, stratify=labels,
                            random_state=0)


def text_size(quick):
    """Documents in the corpus of a full (``quick=False``) or quick run."""
    return QUICK_DOCUMENTS if quick else N_DOCUMENTS


def text_data(vectorizer="tfidf", n_features=None, quick=False):
    """The synthetic corpus as a float64 CSR train/test split, built once per process.

    Every suite that asks for the same ``(vectorizer, n_features, quick)`` gets
    the *same* arrays (cached), so a run vectorizes each variant once; callers
    must treat them as read-only. The corpus is :func:`corpus` with
    :data:`N_DOCUMENTS` documents (:data:`QUICK_DOCUMENTS` when ``quick``),
    :data:`N_CLASSES` classes, split 80/20 (stratified, ``random_state=0``):
    16000 training documents in a full run.

    Parameters
    ----------
    vectorizer : {'tfidf', 'hashing'}
        ``'tfidf'``: ``TfidfVectorizer(max_features=n_features)``, fitted on the
        training documents only (vocabulary and idf), then applied to both
        splits; rows l2-normalized. ``'hashing'``:
        ``HashingVectorizer(n_features=n_features)`` (stateless; signed hashing,
        rows l2-normalized), the same transform on both splits.
    n_features : int or None
        Columns of the hashed matrix (default ``2**18``, as scikit-learn's), or
        the largest vocabulary kept by tf-idf (default: every word seen in the
        training documents).
    quick : bool
        Use the quick run's smaller corpus.

    Returns
    -------
    X_train, X_test : scipy.sparse.csr_matrix of float64
        With sorted indices.
    y_train, y_test : ndarray of int
    """
    if vectorizer not in VECTORIZERS:
        raise ValueError(f"vectorizer must be one of {VECTORIZERS}, got {vectorizer!r}")
    if vectorizer == "hashing" and n_features is None:
        n_features = 2**18
    # One cache key per setting, however the arguments were spelled.
    return _vectorized(vectorizer, n_features, bool(quick))


@functools.lru_cache(maxsize=8)
def _vectorized(vectorizer, n_features, quick):
    """:func:`text_data`'s work, cached."""
    docs_train, docs_test, y_train, y_test = _split_documents(text_size(quick))
    if vectorizer == "hashing":
        transform = HashingVectorizer(n_features=n_features, dtype=np.float64)
        X_train, X_test = transform.transform(docs_train), transform.transform(docs_test)
    else:
        transform = TfidfVectorizer(max_features=n_features, dtype=np.float64)
        X_train = transform.fit_transform(docs_train)
        X_test = transform.transform(docs_test)
    X_train, X_test = X_train.tocsr(), X_test.tocsr()
    X_train.sort_indices()
    X_test.sort_indices()
    return X_train, X_test, y_train, y_test


def text_description(vectorizer="tfidf", n_features=None, quick=False):
    """How :func:`text_data` builds its split, for a case's description (Markdown)."""
    n_documents = text_size(quick)
    if vectorizer == "hashing":
        how = f"`HashingVectorizer(n_features={_power(n_features or 2**18)})`"
    else:
        how = ("`TfidfVectorizer(" + (f"max_features={n_features}" if n_features else "")
               + ")` fitted on the training documents")
    shrunk = f"; shrunk from {N_DOCUMENTS} documents by `--quick`" if quick else ""
    return (f"the synthetic corpus of `benchmarks/text.py` ({n_documents} documents, "
            f"{N_CLASSES} classes, Zipf vocabulary of {VOCABULARY} words), "
            f"{TEST_SIZE:.0%} held out (stratified){shrunk}; {how}, float64 CSR")


def _power(n):
    """``2**k`` when ``n`` is a power of two, else ``n``."""
    return f"2**{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def release_text_data():
    """Drop the cached corpus and its vectorized splits (tens of MB each)."""
    _vectorized.cache_clear()
    _split_documents.cache_clear()
