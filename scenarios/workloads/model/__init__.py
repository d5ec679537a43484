"""The served model: an sklearn classifier (fit.py) and its KServe predictor (serve.py).

Constants here are import-light so the load profile can use them without sklearn.
"""

MODEL_FILE = "model.joblib"
N_FEATURES = 4
# Two iris-like rows; the V1 body the load profile posts.
SAMPLE_INSTANCES: list[list[float]] = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]
