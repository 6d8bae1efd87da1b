"""The token inspector's window side: a reply's tokens coloured by their probability (the
perplexity heatmap's colours), and the inspector of one token — its candidates stage by stage
through the sampler chain, the definitions the sliders' tooltips give, and "what if"."""

from app.inspector.dialog import InspectorDialog
from app.inspector.heat import TokenHeat
from app.inspector.reply_tokens import ReplyTokensDialog

__all__ = ["InspectorDialog", "ReplyTokensDialog", "TokenHeat"]
