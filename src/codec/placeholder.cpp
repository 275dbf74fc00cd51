namespace lifeboat {}
