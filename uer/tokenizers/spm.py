"""SentencePiece support (``--spm_model_path``); ``sentencepiece`` is an optional dependency."""
import logging
import os
from typing import Any, List

from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

SPIECE_UNDERLINE = "\u2581"


def load_spm(path: str) -> Any:
    """A ``sentencepiece.SentencePieceProcessor`` for ``path``, with clear errors."""
    try:
        import sentencepiece
    except ImportError:
        raise UserInputError("--spm_model_path needs the 'sentencepiece' package: "
                             "pip install sentencepiece (or pip install uer[spm])", path=path) from None
    if not os.path.isfile(path):
        raise UserInputError("no such SentencePiece model file", path=path)
    sp_model = sentencepiece.SentencePieceProcessor()
    try:
        sp_model.Load(path)
    except (OSError, RuntimeError) as error:
        raise UserInputError(f"not a SentencePiece model ({error})", path=path) from None
    return sp_model


def encode_pieces(sp_model: Any, text: str) -> List[str]:
    """SentencePiece pieces of ``text``, with the XLNet/ALBERT fix for a number glued to a comma.

    SentencePiece may produce a piece such as ``"▁1,"``; as UER-py (after XLNet) does, such a
    piece is re-encoded without its comma, and the comma becomes a piece of its own.
    """
    pieces = sp_model.EncodeAsPieces(text)
    out: List[str] = []
    for piece in pieces:
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            sub_pieces = sp_model.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
            if not piece.startswith(SPIECE_UNDERLINE) and sub_pieces and sub_pieces[0].startswith(SPIECE_UNDERLINE):
                # The number continued a word: drop the word-start marker SentencePiece added.
                if len(sub_pieces[0]) == 1:
                    sub_pieces = sub_pieces[1:]
                else:
                    sub_pieces[0] = sub_pieces[0][1:]
            out.extend(sub_pieces)
            out.append(piece[-1])
        else:
            out.append(piece)
    return out
