"""The five models of the paper's Table II as representative layers with their count in the model
and the sparsities assumed for them (the paper gives its per-layer sparsities only in Fig. 22's
bars). docs/experiments.md, "fig22", says where each number comes from; ``source`` names it per
layer. Batch 1; ImageNet layers at 224 x 224, Mask R-CNN at 800 x 800."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..sparse import conv_output_size
from .workloads import GemmLayer

__all__ = ["Conv", "Gemm", "MODELS", "model_layers"]


@dataclass(frozen=True)
class Conv:
    """A convolution: ``c`` -> ``k`` channels on an ``h`` x ``w`` map, ``r`` x ``r`` filter, and the
    fractions of zeros in its input activations (``sparsity_x``) and weights (``sparsity_w``)."""

    name: str
    c: int
    k: int
    h: int
    w: int
    r: int
    stride: int
    padding: int
    sparsity_x: float
    sparsity_w: float
    count: int
    source: str
    #: False for a band of a layer's rows: its h input rows are real rows (the halo included), padded
    #: only left and right, so that it has the layer's interior and no extra zero rows.
    pad_rows: bool = True

    @property
    def p(self) -> int:
        return conv_output_size(self.h, self.r, self.stride, self.padding if self.pad_rows else 0)

    @property
    def q(self) -> int:
        return conv_output_size(self.w, self.r, self.stride, self.padding)

    @property
    def macs(self) -> int:
        return self.k * self.c * self.r * self.r * self.p * self.q

    def shape(self) -> str:
        return f"{self.c}->{self.k}, {self.h}x{self.w}, {self.r}x{self.r}/{self.stride}"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source" and not (k == "pad_rows" and v)}


@dataclass(frozen=True)
class Gemm(GemmLayer):
    """A fully-connected layer Y = X W^T over ``tokens`` rows, run as C = W (d_out x d_in) x X^T
    (:class:`GemmLayer`), with its count in the model and the source of its numbers."""

    count: int = 1
    source: str = ""

    @property
    def macs(self) -> int:
        return self.tokens * self.d_in * self.d_out

    def shape(self) -> str:
        return f"{self.tokens}x{self.d_in}->{self.d_out}"

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source"}


_IMG = "input image: no zeros"
_ACT = "activation zeros after ReLU: assumption (docs/experiments.md)"
_VGG_W = "weight zeros: assumption after Han et al. 2015's per-layer pruned VGG-16 (the paper's AGP model is unpublished)"
_DIST18 = ("weight zeros: Distiller's AGP ResNet-18 schedule (examples/agp-pruning/resnet18.schedule_agp.yaml), "
           "mean over the layers of this shape")
_R50 = "weight zeros: assumption after Distiller's AGP ResNet-50 (70.7% overall, resnet50.schedule_agp.yaml)"
_BERT = "weight zeros: assumption, movement pruning at 10% remaining weights [30, 54]; activations dense (paper Section VI-A)"
_LSTM = ("weight zeros: Distiller's AGP word-language model (word_lang_model.LARGE_90: 1500 hidden, 90%); "
         "2 encoder + 4 decoder layers of that size (paper's text; assumption); activations dense (paper)")

VGG16 = (
    Conv("conv1_1", 3, 64, 224, 224, 3, 1, 1, 0.0, 0.42, 1, f"{_IMG}; {_VGG_W}"),
    Conv("conv1_2", 64, 64, 224, 224, 3, 1, 1, 0.50, 0.78, 1, f"{_ACT}; {_VGG_W}"),
    Conv("conv2_1", 64, 128, 112, 112, 3, 1, 1, 0.50, 0.66, 1, f"{_ACT}; {_VGG_W}"),
    Conv("conv2_2", 128, 128, 112, 112, 3, 1, 1, 0.60, 0.64, 1, f"{_ACT}; {_VGG_W}"),
    Conv("conv3_1", 128, 256, 56, 56, 3, 1, 1, 0.60, 0.47, 1, f"{_ACT}; {_VGG_W}"),
    Conv("conv3_2-3", 256, 256, 56, 56, 3, 1, 1, 0.65, 0.67, 2, f"{_ACT}; {_VGG_W}"),
    Conv("conv4_1", 256, 512, 28, 28, 3, 1, 1, 0.70, 0.68, 1, f"{_ACT}; {_VGG_W}"),
    Conv("conv4_2-3", 512, 512, 28, 28, 3, 1, 1, 0.75, 0.70, 2, f"{_ACT}; {_VGG_W}"),
    Conv("conv5_1-3", 512, 512, 14, 14, 3, 1, 1, 0.80, 0.67, 3, f"{_ACT}; {_VGG_W}"),
)

RESNET18 = (
    Conv("conv1", 3, 64, 224, 224, 7, 2, 3, 0.0, 0.0, 1, f"{_IMG}; weights unpruned in Distiller's schedule"),
    Conv("layer1 3x3", 64, 64, 56, 56, 3, 1, 1, 0.50, 0.715, 4, f"{_ACT}; {_DIST18}"),
    Conv("layer2.0.conv1", 64, 128, 56, 56, 3, 2, 1, 0.55, 0.67, 1, f"{_ACT}; {_DIST18}"),
    Conv("layer2 3x3", 128, 128, 28, 28, 3, 1, 1, 0.60, 0.707, 3, f"{_ACT}; {_DIST18}"),
    Conv("layer2 downsample", 64, 128, 56, 56, 1, 2, 0, 0.55, 0.67, 1, f"{_ACT}; {_DIST18}"),
    Conv("layer3.0.conv1", 128, 256, 28, 28, 3, 2, 1, 0.65, 0.76, 1, f"{_ACT}; {_DIST18}"),
    Conv("layer3 3x3", 256, 256, 14, 14, 3, 1, 1, 0.70, 0.623, 3, f"{_ACT}; {_DIST18}"),
    Conv("layer3 downsample", 128, 256, 28, 28, 1, 2, 0, 0.65, 0.0, 1, f"{_ACT}; {_DIST18}"),
    Conv("layer4.0.conv1", 256, 512, 14, 14, 3, 2, 1, 0.75, 0.60, 1, f"{_ACT}; {_DIST18}"),
    Conv("layer4 3x3", 512, 512, 7, 7, 3, 1, 1, 0.80, 0.623, 3, f"{_ACT}; {_DIST18}"),
    Conv("layer4 downsample", 256, 512, 14, 14, 1, 2, 0, 0.75, 0.60, 1, f"{_ACT}; {_DIST18}"),
)

#: Mask R-CNN (ResNet-50-FPN, Detectron's test setting: 100 detections, 4 mask-head convs each):
#: a representative subset of its convolutions; the full-model speedup covers these layers only.
MASK_RCNN = (
    Conv("res2 3x3", 64, 64, 200, 200, 3, 1, 1, 0.50, 0.70, 3, f"{_ACT}; {_R50}"),
    Conv("res3 3x3", 128, 128, 100, 100, 3, 1, 1, 0.60, 0.70, 4, f"{_ACT}; {_R50}"),
    Conv("res4 1x1 reduce", 1024, 256, 50, 50, 1, 1, 0, 0.60, 0.70, 6, f"{_ACT}; {_R50}"),
    Conv("res4 3x3", 256, 256, 50, 50, 3, 1, 1, 0.65, 0.70, 6, f"{_ACT}; {_R50}"),
    Conv("res5 3x3", 512, 512, 25, 25, 3, 1, 1, 0.70, 0.70, 3, f"{_ACT}; {_R50}"),
    Conv("FPN P2 3x3", 256, 256, 200, 200, 3, 1, 1, 0.0, 0.70, 1, f"input is an FPN sum, no ReLU: dense; {_R50}"),
    Conv("mask head 3x3", 256, 256, 14, 14, 3, 1, 1, 0.55, 0.70, 400, f"{_ACT}; {_R50}; 4 convs x 100 RoIs"),
)

BERT_BASE = (
    Gemm("QKV", 384, 768, 2304, 0.0, 0.90, 12, _BERT),
    Gemm("attention out", 384, 768, 768, 0.0, 0.90, 12, _BERT),
    Gemm("FFN1", 384, 768, 3072, 0.0, 0.90, 12, _BERT),
    Gemm("FFN2", 384, 3072, 768, 0.0, 0.90, 12, _BERT),
)

#: An LSTM layer: the input GEMM over a whole sequence (eval batch 10 x 35 steps, PyTorch's
#: word-language-model example that Distiller prunes) and the recurrent GEMM once per step.
LSTM_LM = (
    Gemm("LSTM W_ih (35 steps)", 350, 1500, 6000, 0.0, 0.90, 6, _LSTM),
    Gemm("LSTM W_hh (1 step)", 10, 1500, 6000, 0.0, 0.90, 6 * 35, _LSTM),
)

MODELS: dict[str, tuple[Conv | Gemm, ...]] = {
    "VGG-16": VGG16, "ResNet-18": RESNET18, "Mask R-CNN": MASK_RCNN, "BERT-base": BERT_BASE, "LSTM LM": LSTM_LM,
}


def model_layers(models=None) -> list[tuple[str, Conv | Gemm]]:
    """(model, layer) for ``models`` (names of :data:`MODELS`; default all), in table order."""
    names = list(MODELS) if models is None else list(models)
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        from .. import OtcError

        raise OtcError(f"unknown model(s) {', '.join(map(repr, unknown))}; available: {', '.join(MODELS)}")
    return [(m, layer) for m in names for layer in MODELS[m]]
