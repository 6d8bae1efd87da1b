"""The multiplexed protocol between `parley serve` and its engine child, over one pipe.

Built on inference/host/protocol.py: the same reply tags (EVENT, TOKEN, RESULT, ERROR), the same
portable errors and CLOSE, with a request id after every tag so many requests can be in flight at
once. Parent → child: (tag, rid, *args); child → parent: (tag, rid, *payload). A request ends with
exactly one RESULT or ERROR for its id; CANCEL asks the child to stop request `rid`.
"""

from __future__ import annotations

from inference.host.protocol import CLOSE, ERROR, EVENT, RESULT, TOKEN

# -- requests (parent → child) ------------------------------------------------------------------
LOAD = "load"            # (LOAD, rid, config.to_dict())
SUBMIT = "submit"        # (SUBMIT, rid, request.to_dict(), ParsedRequest.options()):
#                          BatchEngine.submit, the response format made its sampler's grammar
CANCEL = "cancel"        # (CANCEL, rid): stop request rid (no reply of its own)

# -- replies (child → parent) besides the protocol's ----------------------------------------------
LOGPROBS = "logprobs"    # (LOGPROBS, rid, token bytes, logprob, ((bytes, logprob), …)): the
#                          log-probabilities of the token whose TOKEN reply comes next

ENDS = (RESULT, ERROR)   # the replies that end a request

__all__ = ["CANCEL", "CLOSE", "ENDS", "ERROR", "EVENT", "LOAD", "LOGPROBS", "RESULT", "SUBMIT",
           "TOKEN"]
