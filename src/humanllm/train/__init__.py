"""Training and merging: SFT on the ShareGPT task files (TRL), then a streamed weighted merge.

- :mod:`humanllm.train.config`: ``TrainConfig`` and ``MergeConfig`` (the paper's defaults);
- :mod:`humanllm.train.data`: ShareGPT validation and prompt/completion conversion;
- :mod:`humanllm.train.sft`: ``train(cfg, train_files, out_dir)`` with resume;
- :mod:`humanllm.train.merge`: ``merge_checkpoints(inputs, weights, out_dir)``;
- :mod:`humanllm.train.launch`: the module ``accelerate launch`` runs for multi-GPU / multi-node.

Importing this package does not import torch.
"""

from humanllm.train.config import LoraConfig, MergeConfig, TrainConfig

__all__ = ["LoraConfig", "MergeConfig", "TrainConfig"]
