// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/*
 * TestToken - an OpenZeppelin ERC-20 for local chains and tests only: anyone may mint, and the
 * decimals are chosen at deployment (6 for a USDC stand-in, 18 for a WETH one, ...). Like USDC's
 * blacklist, setBlocked(who, true) makes every transfer to `who` revert (Blocked(who)): a token
 * payment a recipient cannot take, for tests.
 */

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestToken is ERC20 {
    uint8 private immutable _decimals;
    mapping(address => bool) public blocked;

    error Blocked(address to);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /* Unrestricted on purpose: a test token has no supply to protect. */
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /* Unrestricted too, for the same reason. */
    function setBlocked(address who, bool isBlocked) external {
        blocked[who] = isBlocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
