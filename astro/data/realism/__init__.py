"""The realism report: how far synthetic cutouts are from real ones, statistic by statistic, and one
number for it all (a domain classifier's cross-validated ROC-AUC, 0.5 = indistinguishable).

    python -m astro realism --synthetic data/synthetic/galaxy10_synthetic_v3_n3000_seed0.h5 \\
        --real ../shared/data/galaxy10_decals_samples --out outputs/realism
"""
