"""De-escalation coach: a simulated angry customer and a grader for contact-centre trainees."""

__version__ = "0.1.0"
