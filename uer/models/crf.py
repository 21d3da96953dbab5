"""Linear-chain conditional random field (Lafferty et al., 2001) for sequence tagging.

Both the forward algorithm (log partition) and Viterbi decoding loop over time steps only; every
step is one batched tensor operation over [batch_size x tags x tags]. Sequences are left-aligned:
real tokens first, then padding (``mask`` False), as every batch of this toolkit is.
"""
import torch
import torch.nn as nn


class CRF(nn.Module):
    """Parameters: ``transitions`` [tags x tags] (from row tag to column tag), ``start_transitions``
    and ``end_transitions`` [tags]."""

    def __init__(self, tags_num: int):
        super().__init__()
        self.tags_num = tags_num
        self.transitions = nn.Parameter(torch.zeros(tags_num, tags_num))
        self.start_transitions = nn.Parameter(torch.zeros(tags_num))
        self.end_transitions = nn.Parameter(torch.zeros(tags_num))

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed over the batch. emissions [batch_size x seq_length x tags] (any float dtype, computed
        in fp32), tags [batch_size x seq_length], mask [batch_size x seq_length] (bool, row starts True)."""
        emissions = emissions.float()
        return (self._log_partition(emissions, mask) - self._gold_score(emissions, tags, mask)).sum()

    def _gold_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        maskf = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)            # [B x S]
        score = self.start_transitions[tags[:, 0]] + (emitted * maskf).sum(1)
        moves = self.transitions[tags[:, :-1], tags[:, 1:]]                    # [B x S-1]
        score = score + (moves * maskf[:, 1:]).sum(1)
        last = mask.long().sum(1).clamp(min=1) - 1
        return score + self.end_transitions[tags.gather(1, last.unsqueeze(1)).squeeze(1)]

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        score = self.start_transitions + emissions[:, 0]                       # [B x T]
        transitions = self.transitions.unsqueeze(0)
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(score.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
            score = torch.where(mask[:, t].unsqueeze(1), step, score)
        return torch.logsumexp(score + self.end_transitions, dim=1)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Viterbi: the best tag sequence [batch_size x seq_length]; positions past a row's end
        repeat its last tag (callers trim to the real length)."""
        emissions = emissions.float()
        batch_size, seq_length, tags_num = emissions.shape
        score = self.start_transitions + emissions[:, 0]
        transitions = self.transitions.unsqueeze(0)
        identity = torch.arange(tags_num, device=emissions.device).expand(batch_size, tags_num)
        backpointers = []
        for t in range(1, seq_length):
            best, index = (score.unsqueeze(2) + transitions).max(dim=1)      # over the previous tag
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, best + emissions[:, t], score)
            # Padding steps point each tag to itself, so backtracking walks through them unchanged.
            backpointers.append(torch.where(keep, index, identity))
        tag = (score + self.end_transitions).argmax(dim=1)
        path = [tag]
        for index in reversed(backpointers):
            tag = index.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        path.reverse()
        return torch.stack(path, dim=1)

    def extra_repr(self) -> str:
        return f"tags_num={self.tags_num}"

