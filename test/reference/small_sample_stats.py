"""Reference values for src/analysis/small_sample.ts from scipy: Student's t CDF and quantiles, Welch's interval of a
difference of means, and the exact permutation test. Writes test/fixtures/stats/small_sample.json.

    python3 test/reference/small_sample_stats.py   # needs scipy (not installed by the project; run by hand)
"""
import itertools
import json
import pathlib

import numpy as np
import scipy
from scipy import stats

CASES = [
    # (a, b): the study's shapes, 3 against 3, and a few others.
    ([1.2, 0.9, 1.5], [6.97, 6.4, 7.1]),
    ([6.1, 7.3, 6.6], [6.97, 6.4, 7.1]),
    ([2.0, 2.0, 2.1], [1.0, 5.0, 9.0]),
    ([0.5, 1.5, 1.0, 2.5], [3.0, 2.0]),
    ([10.0, 12.0, 11.5, 9.0, 13.0], [8.0, 9.5, 7.0, 8.5, 10.0]),
]


def welch(a, b, level=0.95):
    a, b = np.asarray(a), np.asarray(b)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    return {"difference": float(a.mean() - b.mean()), "low": float(ci.low), "high": float(ci.high), "df": float(res.df)}


def permutation(a, b):
    def statistic(x, y, axis):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    n_splits = len(list(itertools.combinations(range(len(a) + len(b)), len(a))))
    out = {}
    for alternative, key in (("less", "less"), ("greater", "greater")):
        res = stats.permutation_test((a, b), statistic, permutation_type="independent", alternative=alternative,
                                     n_resamples=np.inf)
        out[key] = float(res.pvalue)
    out["splits"] = n_splits
    return out


def main():
    t_points = [(t, df) for t in (-3.0, -0.5, 0.0, 1.0, 2.5, 6.0) for df in (1.0, 2.0, 2.7, 4.0, 11.3, 60.0)]
    quantiles = [(p, df) for p in (0.025, 0.05, 0.5, 0.9, 0.975, 0.995) for df in (1.0, 2.0, 2.7, 4.0, 11.3, 60.0)]
    fixture = {
        "scipy": scipy.__version__,
        "t_cdf": [{"t": t, "df": df, "cdf": float(stats.t.cdf(t, df))} for t, df in t_points],
        "t_quantile": [{"p": p, "df": df, "q": float(stats.t.ppf(p, df))} for p, df in quantiles],
        "cases": [{"a": a, "b": b, "welch": welch(a, b), "permutation": permutation(a, b)} for a, b in CASES],
    }
    out = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "stats" / "small_sample.json"
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
