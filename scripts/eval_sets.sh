# Sourced by the comparison scripts: the evaluation sets of docs/evaluation.md as `inharmony evaluate` arguments
# in the array `sets` (PHOTOS: the photo folder of the probes), and in `deciding` the part of them the shipping
# rule decides on (issue 21; scripts/candidate.sh): the real composites, the wallpaper cut-outs, the swap and
# pasted probes, and the held-out photos' false alarms. ../shared/realdata joins when present (measured, never
# trained on), and so do the synthetic test sets data/synth_v2, data/synth_v2_outline and data/synth_v2_paste
# (inharmony data synth --photos ../shared/photos --out DIR --n 400 --seed 0, plus --outline 1.0, or
# --objects data/objects --paste 1.0: copy-paste composites only, each against the photo its object came from,
# which joins the set as an authentic photo: the AUROC of a probe that realdata does not choose).
deciding=(--data "swap=swap:$PHOTOS" --data "heldout=heldout:$PHOTOS")
[ -f ../shared/realdata/manifest.csv ] && deciding+=(--data "realdata=../shared/realdata/manifest.csv")
[ -d data/synth_v2_paste ] && deciding+=(--data "synth_paste=data/synth_v2_paste/manifest.csv")  # with its twins
# session 15: the cut-outs below pasted into every photo of data/calib_photos (the corpus's wallpapers and example
# photos without scikit-image's: other cameras, scenes people chose, photos no model trained on); the probe that
# reproduces the real copy-paste composites' loss (docs/results/session15.md)
[ -d data/corpus/cutouts ] && [ -d data/calib_photos ] && \
    deciding+=(--data "cutout_wall=cutout:data/calib_photos,data/corpus/cutouts,every")
sets=("${deciding[@]}" --data "skimage=authentic:skimage")
[ -d data/synth_v2 ] && sets+=(--data "synth=data/synth_v2")
[ -d data/synth_v2_outline ] && sets+=(--data "synth_outline=data/synth_v2_outline")
# the cut-out probe (session 14): photographic RGBA cut-outs (inharmony data photos --out data/corpus) pasted through
# their own mattes into the held-out photos, with the photos; and the same pastes harmonised
[ -d data/corpus/cutouts ] && sets+=(--data "cutout=cutout:$PHOTOS,data/corpus/cutouts" \
    --data "cutout_harmonised=cutout_harmonised:$PHOTOS,data/corpus/cutouts")
true
