"""SWAT's PCA compression (compressing_embeddings.py: features_scaler + pca_transformation), verbatim but
for pandas, on a matrix read from JSON.

Usage: pca_ref.py IN.json OUT.json  — IN holds {"emb": [[...], ...], "k": K} (a per-residue matrix);
OUT gets {"scores": [...]}: pca_transformation(emb, K) flattened component after component (pca1-2's
reshape(-1)). Computed in float64.
"""
import json
import sys

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler


def features_scaler(features):
    scaler = MinMaxScaler(feature_range=(-1, 1))
    return scaler.fit_transform(features)


def pca_transformation(embeddings, num_pca_components=2):
    features = features_scaler(embeddings).T
    pca = PCA(num_pca_components)
    return pca.fit_transform(features).T


src = json.load(open(sys.argv[1]))
scores = pca_transformation(np.array(src["emb"], dtype=np.float64), src["k"])
json.dump({"scores": scores.reshape(-1).tolist()}, open(sys.argv[2], "w"))
