import pytest

from wafersim.catalog.fabric_arch import load_arch


@pytest.fixture(scope="session")
def wse2():
    return load_arch("wse-2")


@pytest.fixture(scope="session")
def wse3():
    return load_arch("wse-3")
