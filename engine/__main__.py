"""`python -m engine`, and the `diplo` command's entry point (`run`)."""
import gc


def run() -> None:
    # Importing the command line makes a great many objects (the models' validators above
    # all) and no garbage, and the collector would walk them all several times over: it is
    # off while they are made, and they are then kept out of its way (frozen), so that the
    # collections of a long batch walk only what the batch makes
    gc.disable()
    from .cli import main
    gc.freeze()
    gc.enable()
    main(prog_name="diplo")


if __name__ == "__main__":
    run()
