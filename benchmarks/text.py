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
``TfidfVectorizer``, ``CountVectorizer`` or ``HashingVectorizer``.
"""

import numpy as np

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
