from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Same algorithm name and format, few iterations: hashes made in tests still verify in
    the real server processes (the iteration count travels inside the hash)."""

    iterations = 1000
