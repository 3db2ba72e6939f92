"""What a person sees; pages compose components and bind state, never the database."""
