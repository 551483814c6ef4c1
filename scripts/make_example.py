"""Write examples/astronaut_composite.jpg (+ mask): a synthetic composite of scikit-image's astronaut photo
(NASA, public domain), made with the package's own generator. Usage: python scripts/make_example.py"""

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from inharmony.data.synth import make_composite

out = Path(__file__).resolve().parent.parent / "examples"
out.mkdir(exist_ok=True)
real = np.asarray(Image.fromarray(data.astronaut()).resize((384, 384)))
rng = np.random.default_rng(4)
comp = make_composite(real, rng, np.asarray(Image.fromarray(data.coffee())), strength=(0.6, 1.0), min_delta=12)
Image.fromarray(comp.composite).save(out / "astronaut_composite.jpg", quality=95)
Image.fromarray(comp.mask).save(out / "astronaut_mask.png")
print(comp.info)
