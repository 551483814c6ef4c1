"""Run under torchrun by test_engine.py: train a few steps, then dump this rank's parameters."""

import sys
from pathlib import Path

import torch

from inharmony.engine.config import load_config
from inharmony.engine.trainer import Trainer

if __name__ == "__main__":
    root, out = sys.argv[1], Path(sys.argv[2])
    cfg = load_config(
        None,
        [
            "model.name=dirl_mobilenetv2",
            f"data.root={root}",
            "data.size=32",
            "train.batch_size=2",
            "train.max_steps=2",
            "train.workers=0",
            "train.device=cpu",
            "train.epochs=1",
        ],
    )
    trainer = Trainer(cfg, out)
    trainer.fit()
    torch.save(
        {k: v.detach().clone() for k, v in trainer.model.named_parameters()}, out / f"rank{trainer.dist.rank}.pt"
    )
