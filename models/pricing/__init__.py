"""Pricing core of the Ising market maker: belief state, inference, coherent quotes, learning, LMSR books.

Pure numpy/scipy; see MISSION §2 for the mechanism. Public API re-exported here.
"""

from models.pricing.bp import BPConfig
from models.pricing.coherence import Quote, clip_to_bounds, frechet_bounds, leg_marginals, quote, quote_many
from models.pricing.ising import (
    InferenceConfig,
    IsingModel,
    Method,
    binary_to_spins,
    logit,
    normalize_legs,
    spins_to_binary,
)
from models.pricing.learning import (
    Contract,
    Gradient,
    LearnerConfig,
    OnlineLearner,
    Settlement,
    UpdateResult,
    all_yes_target,
    ce_gradient,
    cross_entropy,
    flow_target,
    initial_fields,
    initial_model,
    sgd_step,
)
from models.pricing.lmsr import LMSRBook, LMSRTrade, lmsr_cost, lmsr_price, move_cost
from models.pricing.results import (
    InferenceDiagnostics,
    LogPartition,
    Moments,
    NotConvergedError,
    Probability,
)

__all__ = [
    "BPConfig",
    "Contract",
    "Gradient",
    "InferenceConfig",
    "InferenceDiagnostics",
    "IsingModel",
    "LMSRBook",
    "LMSRTrade",
    "LearnerConfig",
    "LogPartition",
    "Method",
    "Moments",
    "NotConvergedError",
    "OnlineLearner",
    "Probability",
    "Quote",
    "Settlement",
    "UpdateResult",
    "all_yes_target",
    "binary_to_spins",
    "ce_gradient",
    "clip_to_bounds",
    "cross_entropy",
    "flow_target",
    "frechet_bounds",
    "initial_fields",
    "initial_model",
    "leg_marginals",
    "lmsr_cost",
    "lmsr_price",
    "logit",
    "move_cost",
    "normalize_legs",
    "quote",
    "quote_many",
    "sgd_step",
    "spins_to_binary",
]
