"""The lab: corpus, evaluator, oracle, stand-in models and benchmark helpers used by tools/ and tests/, not by the syncmotion command."""
