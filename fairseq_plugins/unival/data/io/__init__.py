"""Media decoding (images now; video and audio readers live beside it) and transforms."""

from unival.data.io.image import decode_image, encode_image_base64
from unival.data.io.transforms import image_to_tensor

__all__ = ["decode_image", "encode_image_base64", "image_to_tensor"]
