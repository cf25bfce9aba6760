"""Packaging for the CoRT toolkit (``pip install --no-deps -e .`` after the requirements)."""

from setuptools import find_packages, setup


def _requirements(path: str) -> list[str]:
    with open(path) as fh:
        return [ln.split("#")[0].strip() for ln in fh if ln.split("#")[0].strip()]


setup(
    name="cort-toolkit",
    version="0.1.0",
    description="Teach reasoning models to think with a Python interpreter (CoRT), and measure it.",
    packages=find_packages(include=["cort", "cort.*", "infer", "infer.*", "train", "train.*",
                                    "evaluation", "evaluation.*", "data", "data.*"]),
    python_requires=">=3.10",
    install_requires=_requirements("requirements.txt"),
    include_package_data=True,
)
