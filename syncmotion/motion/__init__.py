"""Human motion: the HumanML3D skeleton and representation, text scripts, export."""
