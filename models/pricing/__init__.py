"""Pricing core of the Ising market maker: belief state, inference, coherent quotes, learning, LMSR books.

Pure numpy/scipy; see MISSION §2 for the mechanism. Public API re-exported here.

**The law respects the structure of a game.** The structural layer maps every market of a game cluster to
literals over cumulative binary variables ``y_{axis,j} = [cell ≥ j]`` (variable ids ``<axis>#j``); every
market's YES is a run of cells of one axis. The model is the pairwise maximum-entropy law over those
variables — parameters ``h`` (n,) and ``J`` (n, n), sufficient statistics ``(y, y yᵀ)`` — restricted to the
feasible (thermometer) states: one *node* per axis with ``K + 1`` states (:mod:`.structure`), node energies
the cumulative sums of ``h`` along the axis, pair tables the 2-D cumulative sums of the ``J`` blocks.
Couplings inside a node only act as fields; the learner never creates them. A variable without axis is a
two-state node, so the unconstrained Ising model of the experiments is the special case and one engine
serves both (:class:`IsingModel` ``structure=``).

**Events are node masks** (:class:`NodeEvent`): a leg restricts its node to a set of states, a parlay ANDs
them, P(event) = Z(masks) / Z, and an event is impossible exactly when a mask is empty (probability exactly
0). A NO on a bracket is one mask. :func:`~.replay.event_probability`, :class:`~.replay.LiteralMap` and the
ensemble all price through masks; the ensemble canonicalises legs to masks first, so every event that
reduces to one node gets the same price from every member.

**Exact inference wherever the state space allows** (:mod:`.junction`, :mod:`.engine`): connected components
of the node graph are independent; each is a junction tree from greedy weighted min-fill elimination,
exact when its largest clique has at most ``InferenceConfig.clique_max_states`` joint states; a component
beyond that is one table up to 2^``table_max_n`` states or enumerated over its feasible states up to
2^``exact_limit_n``. Messages (Shafer–Shenoy, renormalised, log scales carried) are cached and re-used across
parameter updates where no table on their source side changed. Moments for learning, conditional moments,
the log partition function, marginals and exact sampling (forward through the tree) come from the same
engine, and fits use the same inference as quotes. Only unconstrained models beyond every budget fall back
to cutset BP (:mod:`.bp`), always flagged; a structured model beyond every budget raises
:class:`IntractableError`, and the ensemble turns any inference failure into
:class:`~.quotes.ModelNotConverged` (HTTP ``model_not_converged``), never a silent fallback price.

**Fitted models stay exact.** A parlay couples the nodes of its legs; a new node pair is admitted only while
the min-fill triangulation keeps every clique within the fit's budget (``FitConfig.max_clique_states``),
with the pairs of the game's hub nodes (the two largest: margin and total) reserved from the start; refused
pairs are counted in the fit's metrics and notes. Field steps on multi-threshold nodes are preconditioned by
the inverse correlation of their thresholds (eigenvalues clipped at 1), a minute's base-market mids are one
batched step (exact within a node, Jacobi across nodes), and the production fit keeps lazy LMSR books whose
P&L equals eagerly re-posted books' (:mod:`.learning`).

**Not captured:** arithmetic between quantities (total = home + away, margin = home − away). A pairwise law
learns such three-node rules only softly, so an event like "home over 120 ∧ away over 110 ∧ total at most
230" keeps a small positive price.
"""

from models.pricing.bp import BPConfig
from models.pricing.coherence import Quote, clip_to_bounds, frechet_bounds, leg_marginals, quote, quote_many
from models.pricing.ising import (
    InferenceConfig,
    IntractableError,
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
from models.pricing.structure import NodeEvent, Structure

__all__ = [
    "BPConfig",
    "Contract",
    "Gradient",
    "InferenceConfig",
    "InferenceDiagnostics",
    "IntractableError",
    "IsingModel",
    "LMSRBook",
    "LMSRTrade",
    "LearnerConfig",
    "LogPartition",
    "Method",
    "Moments",
    "NodeEvent",
    "NotConvergedError",
    "OnlineLearner",
    "Probability",
    "Quote",
    "Settlement",
    "Structure",
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
