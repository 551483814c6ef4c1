import pytest
import torch

from inharmony.engine.train_scales import check_scales, rescale, rescaled_batch, step_factor


def test_check_scales_accepts_factors_and_names_the_setting_otherwise():
    assert check_scales(None) is None and check_scales([]) is None
    assert check_scales([0.8, 1, 1.2]) == [0.8, 1.0, 1.2]
    for bad in (1.2, "0.8", [0.8, "x"], [0.1], [5], [True]):
        with pytest.raises(ValueError, match="train.scales"):
            check_scales(bad)


def test_each_step_draws_the_same_factor_every_time_and_every_factor_comes_up():
    factors = [0.8, 1.0, 1.2]
    drawn = [step_factor(factors, 7, step) for step in range(60)]
    assert drawn == [step_factor(factors, 7, step) for step in range(60)]
    assert set(drawn) == set(factors)
    assert drawn != [step_factor(factors, 8, step) for step in range(60)]  # the seed matters


def test_rescale_sizes_images_and_keeps_masks_binary_and_not_empty():
    image = torch.rand(2, 3, 160, 160)
    mask = torch.zeros(2, 1, 160, 160)
    mask[0, :, 40:100, 50:120] = 1
    mask[1, :, 80, 80] = 1  # one pixel: gone at 0.5 after a bilinear 0.8×, kept as the peak
    small, small_mask = rescale(image, mask, 0.8)
    big, big_mask = rescale(image, mask, 1.2)
    assert small.shape == (2, 3, 128, 128) and big.shape == (2, 3, 192, 192)
    assert small_mask.shape == (2, 1, 128, 128) and big_mask.shape == (2, 1, 192, 192)
    for m in (small_mask, big_mask):
        assert set(m.unique().tolist()) <= {0.0, 1.0} and bool((m.flatten(1).amax(1) == 1).all())
    area = mask[0].mean().item()
    assert abs(small_mask[0].mean().item() - area) < 0.02 and abs(big_mask[0].mean().item() - area) < 0.02
    empty = torch.zeros(1, 1, 64, 64)
    assert rescale(torch.rand(1, 3, 64, 64), empty, 1.5)[1].sum() == 0  # authentic stays authentic
    same_image, same_mask = rescale(image, mask, 1.0)
    assert same_image is image and same_mask is mask


def test_rescaled_batch_leaves_the_rest_of_the_batch_and_is_off_without_factors():
    batch = {"image": torch.rand(1, 3, 64, 64), "mask": torch.zeros(1, 1, 64, 64), "content": torch.tensor([3])}
    assert rescaled_batch(batch, None, 0, 0) is batch
    sizes = {rescaled_batch(batch, [0.5, 1.5], 0, s)["image"].shape[-1] for s in range(20)}
    assert sizes == {32, 96}
    assert rescaled_batch(batch, [0.5], 0, 0)["content"] is batch["content"]
