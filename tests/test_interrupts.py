import pytest

from automl import interrupts


@pytest.fixture(autouse=True)
def _forget_interrupts():  # noqa: ANN202
    interrupts.clear()
    yield
    interrupts.clear()


def test_a_signal_outside_a_deferred_block_interrupts_at_once() -> None:
    with pytest.raises(KeyboardInterrupt):
        interrupts.handle_signal(2, None)
    assert interrupts.requested()


def test_a_signal_inside_a_deferred_block_waits_for_its_end() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        interrupts.handle_signal(2, None)  # as Python would call it between two of the block's steps
        steps.append("the rest of the block ran")
    assert steps == ["the rest of the block ran"]


def test_nested_blocks_raise_only_as_the_outermost_ends() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        with interrupts.deferred():
            interrupts.handle_signal(2, None)
        steps.append("the outer block went on")
    assert steps == ["the outer block went on"]


def test_an_error_inside_a_deferred_block_is_not_replaced_by_the_interrupt() -> None:
    with pytest.raises(ValueError), interrupts.deferred():
        interrupts.handle_signal(2, None)
        raise ValueError("the block's own error")
    assert interrupts.requested()  # still remembered: the next check() stops the search
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_a_quiet_block_raises_nothing() -> None:
    with interrupts.deferred():
        pass
    assert not interrupts.requested()
